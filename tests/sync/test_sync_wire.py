"""The compact batch encoding gives back exactly what went in, and is small."""

import hashlib
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.core.ids import new_id
from sync import wire

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    | st.sampled_from(["2026-11-24", "2026-11-24T08:00:00+07:00", "2026-11-24T01:00:00.123Z",
                       "2026-02-30", "0190a1b2-0000-7000-8000-000000000000", "DH000123",
                       "007", "00", "ab" * 32, "AB" * 32, "2026-11-24T01:00:00"])
    | st.uuids().map(str) | st.datetimes().map(lambda d: d.isoformat()),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=5), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(json_values, max_size=8))
def test_round_trip_any_json(value):
    assert wire.decode(wire.encode(value)) == value


def test_uuid7_and_numbers_round_trip():
    ids = [new_id(1_700_000_000_000 + i * 977) for i in range(50)]
    value = {"ids": ids + ids[::-1], "codes": [f"DH{n:06d}" for n in range(0, 900, 7)]}
    assert wire.decode(wire.encode(value)) == value


def _hash(ev):
    body = {k: v for k, v in ev.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _chain(n, origin="b1"):
    prev, out = "0" * 64, []
    for i in range(n):
        ms = 1_764_000_000_000 + i * 30_000
        ev = {"id": new_id(ms), "origin": origin, "seq": i + 1, "hlc": ms << 16,
              "kind": "loan.out", "library": "PY-DH01", "prev_hash": prev,
              "body": {"loan_id": new_id(ms), "item_id": new_id(ms - 10**9 + i),
                       "patron_id": new_id(1_700_000_000_000 + i % 7), "due_date": "2026-12-08"}}
        ev["hash"] = prev = _hash(ev)
        out.append(ev)
    return out


def test_hashes_are_left_out_and_recomputed():
    events = _chain(20) + _chain(5, origin="b2")
    packed = wire.pack_events(events, _hash)
    assert events[5]["hash"].encode() not in packed
    assert bytes.fromhex(events[5]["hash"]) not in packed
    assert wire.unpack_events(packed, _hash) == events


def test_smaller_than_json_compressed():
    events = _chain(100)
    floor = len(zlib.compress(json.dumps(events, separators=(",", ":")).encode(), 9))
    ours = len(zlib.compress(wire.pack_events(events, _hash), 9))
    assert ours < 0.6 * floor


@pytest.mark.parametrize("data", [b"", b"\x01", b"\x01\x01a\x05\x03", b"\xff" * 20,
                                  b"\x01\x00\x01\x03", b"\x01\x00\x02\x0c\x09"])
def test_garbage_is_a_clear_error(data):
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_unpack_needs_a_list_of_events():
    with pytest.raises(wire.WireError, match="list of events"):
        wire.unpack_events(wire.encode({"a": 1}))
    with pytest.raises(wire.WireError, match="recompute"):
        wire.unpack_events(wire.pack_events(_chain(2), _hash))
