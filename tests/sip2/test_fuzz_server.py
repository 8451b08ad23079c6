"""Fuzzing the live server: garbage and corrupted frames get 96 or a clean refusal,
never a crash, and never change the library's state."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.core.models import Event

from .client import SipClient, add_checksum, checksum_ok
from .conftest import KIOSK_PASSWORD, KIOSK_USER, LIB

VALID = [
    f"11NN20240101    000000{' ' * 18}AO{LIB}|AAP0003|ABI0001|AC|",
    f"09N20240101    00000020240101    000000AP|AO{LIB}|ABI0002|AC|",
    f"29NN20240101    000000{' ' * 18}AO{LIB}|AAP0001|ABI0003|AC|",
    f"6300020240101    000000Y         AO{LIB}|AAP0001|AC|",
    "9300CNkiosk1|COkiosk-secret|",
]

line_bytes = st.binary(max_size=400).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


def _mutate(frame: bytes, pos: int, byte: int) -> bytes:
    pos %= len(frame) - 6
    new = (frame[pos] + 1 + byte % 254) % 256
    if new in (13, 10):
        new = 0x21
    return frame[:pos] + bytes([new]) + frame[pos + 1:]


def test_fuzz_live_server(sip, lib):
    c = SipClient("127.0.0.1", sip.port)
    assert c.login(KIOSK_USER, KIOSK_PASSWORD).fixed == "1"
    before = Event.select().count()

    def check_alive():
        r = c.sc_status()
        assert r.code == "98" and checksum_ok(r.raw)

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(
        line_bytes,
        st.tuples(st.sampled_from(VALID), st.integers(0, 500), st.integers(0, 255),
                  st.integers(0, 9)).map(
            lambda t: _mutate(add_checksum(t[0].encode() + b"AY%dAZ" % t[3]), t[1], t[2])),
    ))
    def one(line):
        c.send_raw(line + b"\r")
        if line.strip():
            r = c.reply()
            assert r.code == "96" or checksum_ok(r.raw) or r.raw[-6:-4] != b"AZ"
        check_alive()

    one()
    assert Event.select().count() == before
    c.close()
