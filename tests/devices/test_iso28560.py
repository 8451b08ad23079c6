import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.rfid import iso28560 as iso
from devices.rfid.iso28560 import Extension, TagData, TagDataError

VECTOR_32 = bytes.fromhex("11010131313232333334340000000000000000513e4445373035000000000000")


def test_crc_check_value():
    assert iso.crc16_ccitt_false(b"123456789") == 0x29B1


def test_known_32_byte_vector():
    tag = iso.decode(VECTOR_32)
    assert (tag.item_id, tag.country, tag.library) == ("11223344", "DE", "705")
    assert (tag.usage, tag.parts, tag.part, tag.owner) == (1, 1, 1, "DE-705")
    assert iso.encode(tag, size=32) == VECTOR_32


def test_34_byte_layout_and_offsets():
    raw = iso.encode(TagData("3500123", country="VN", library="PY-DH01"))
    assert len(raw) == 34
    assert raw[0] == 0x11 and raw[3:10] == b"3500123" and raw[21:23] == b"VN"
    assert raw[23:30] == b"PY-DH01"
    crc = iso.crc16_ccitt_false(raw[:19] + raw[21:])
    assert raw[19:21] == crc.to_bytes(2, "little")


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b[:19] + bytes([b[19] ^ 1]) + b[20:], "CRC mismatch"),
    (lambda b: b[:5] + b"9" + b[6:], "CRC mismatch"),
    (lambda b: bytes([0x21]) + b[1:], "version 2"),
    (lambda b: b[:20], "truncated"),
    (lambda b: b + b"\0", "truncated"),
    (lambda b: bytes(32), "blank tag"),
])
def test_bad_blocks_raise_clear_errors(mutate, message):
    with pytest.raises(TagDataError, match=message):
        iso.decode(mutate(VECTOR_32))


def test_bad_fields_refused_on_encode():
    with pytest.raises(TagDataError, match="longer than 16"):
        iso.encode(TagData("1" * 17))
    with pytest.raises(TagDataError, match="set position"):
        iso.encode(TagData("1", parts=2, part=3))
    with pytest.raises(TagDataError, match="ASCII"):
        iso.encode(TagData("Đ1"))
    with pytest.raises(TagDataError, match="32-byte"):
        iso.encode(TagData("1", library="ABCDEFGHIJ"), size=32)


def test_extension_blocks_round_trip_and_crc():
    tag = TagData("12345", country="VN", library="PY01",
                  extensions=(Extension(1, b"shelf 3"), Extension(0x0201, b"\x00\x01")))
    raw = iso.encode(tag) + bytes(10)  # unused tag memory after the last block
    assert iso.decode(raw) == tag
    broken = bytearray(raw)
    broken[36] ^= 0xFF
    with pytest.raises(TagDataError, match="extension block at byte 0"):
        iso.decode(bytes(broken))


def test_multi_part_sets():
    tags = [TagData("A1", parts=3, part=1, library="X"), TagData("A1", parts=3, part=3,
            library="X"), TagData("B2", parts=2, part=1), TagData("B2", parts=2, part=2)]
    decoded = [iso.decode(iso.encode(t)) for t in tags]
    assert iso.incomplete_sets(decoded) == {("X", "A1"): ([1, 3], 3)}


ascii_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=16)


@st.composite
def tag_data(draw, size):
    parts = draw(st.integers(1, 255))
    return TagData(
        item_id=draw(ascii_text.filter(bool)),
        usage=draw(st.integers(0, 15)), parts=parts, part=draw(st.integers(1, parts)),
        country=draw(st.sampled_from(["", "VN", "DE", "DK"])),
        library=draw(st.text(st.sampled_from("ABCXYZ0123456789-:/"),
                             max_size=11 if size == 34 else 9)),
        extensions=tuple(draw(st.lists(st.builds(
            Extension, st.integers(1, 0xFFFF), st.binary(max_size=40)), max_size=3)))
        if size == 34 else (),
    )


@given(tag_data(34))
def test_round_trip_34(tag):
    assert iso.decode(iso.encode(tag, 34)) == tag


@given(tag_data(32))
def test_round_trip_32(tag):
    raw = iso.encode(tag, 32)
    assert len(raw) == 32 and iso.decode(raw) == tag


@given(tag_data(34), st.integers(0, 33), st.integers(1, 255))
def test_any_single_byte_corruption_is_caught(tag, pos, flip):
    raw = bytearray(iso.encode(tag, 34))
    raw[pos] ^= flip
    with pytest.raises(TagDataError):  # CRC-16 catches every single-byte error
        iso.decode(bytes(raw))
