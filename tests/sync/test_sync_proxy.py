"""The fault proxy itself: a test tool must be trusted before it judges sync."""

import socket
import threading
import time

import pytest

from tests.sync.proxy import FaultProxy, exchange


@pytest.fixture
def echo():
    """A loopback server answering each connection with what it got, then closing."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.1)
    seen = []
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            with c:
                data = b""
                while chunk := c.recv(65536):
                    data += chunk
                seen.append(data)
                try:
                    c.sendall(data)
                except OSError:
                    pass

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield srv.getsockname()[1], seen
    stop.set()
    t.join(2)
    srv.close()


def roundtrip(port, data):
    """The bytes that come back, closed or reset; a link that goes silent fails."""
    out, how = exchange(port, data)
    assert how != "silence", out
    return out


def test_throttle_and_delay(echo):
    port, _ = echo
    with FaultProxy(port, bitrate=64_000, delay=0.1) as p:
        t0 = time.monotonic()
        out = roundtrip(p.port, b"x" * 4000)
        took = time.monotonic() - t0
    assert out == b"x" * 4000
    # 4000 bytes each way at 8000 bytes/s, plus 2 x 100 ms
    assert 0.9 < took < 2.5, took


def test_cut_at_byte_offset(echo):
    port, seen = echo
    with FaultProxy(port, cut_at=lambda n: 1500) as p:
        out = roundtrip(p.port, b"y" * 1000)
    assert out == b"y" * 500
    assert p.stats["cuts"] == 1


def test_duplicate_replays_request(echo):
    port, seen = echo
    with FaultProxy(port, duplicate=True) as p:
        assert roundtrip(p.port, b"once") == b"once"
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert seen == [b"once", b"once"]
