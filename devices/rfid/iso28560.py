"""ISO 28560-3 (the "Danish data model") library tag data: basic block and extension blocks.

Basic block, 34 bytes (tags with 32 bytes of user memory drop the last two ISIL bytes):

    0      content parameter: version (high nibble, 1) | type of usage (low nibble)
    1      parts in item (set size)          2   part number (1-based)
    3..18  primary item identifier, ASCII, NUL padded
    19..20 CRC-16/CCITT-FALSE, least significant byte first
    21..22 country of the owner library (ISO 3166 alpha-2)
    23..33 ISIL of the owner library without the country prefix, NUL padded (9 bytes on 32)

The CRC runs over the 32 data bytes of the 34-byte layout without the two CRC bytes; on a
32-byte tag the two missing ISIL bytes count as NUL. The known vector in the tests
(11010131313232333334340000000000000000513e4445373035000000000000) only checks that way.
"""

from dataclasses import dataclass, field

VERSION = 1
CRC_AT = 19
HEADER_LEN = 21
FULL, SHORT = 34, 32
ITEM_LEN = 16
USAGE_NAMES = {0: "acquisition", 1: "item", 2: "item", 7: "discarded", 8: "patron"}
EXT_END = 0


class TagDataError(ValueError):
    """The bytes are not a valid ISO 28560-3 block; the message says why."""


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


@dataclass(frozen=True)
class Extension:
    """An optional block after the basic block: a 16-bit id and opaque data."""

    block_id: int
    data: bytes


@dataclass(frozen=True)
class TagData:
    item_id: str
    usage: int = 1
    parts: int = 1
    part: int = 1
    country: str = ""
    library: str = ""
    version: int = VERSION
    extensions: tuple = field(default=())

    @property
    def owner(self) -> str:
        """The owner library's ISIL, e.g. "VN-PY01" (country prefix, dash, library)."""
        if not self.library:
            return self.country
        return f"{self.country}-{self.library}" if self.country else self.library

    @property
    def usage_name(self) -> str:
        return USAGE_NAMES.get(self.usage, "item")


def _ascii(text: str, width: int, what: str) -> bytes:
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise TagDataError(f"{what} must be ASCII: {text!r}") from None
    if len(raw) > width:
        raise TagDataError(f"{what} longer than {width} bytes: {text!r}")
    if b"\0" in raw:
        raise TagDataError(f"{what} contains NUL")
    return raw.ljust(width, b"\0")


def _check_fields(tag: TagData) -> None:
    if not 0 <= tag.usage <= 15:
        raise TagDataError(f"type of usage must be 0..15, not {tag.usage}")
    if tag.version != VERSION:
        raise TagDataError(f"only version {VERSION} is defined, not {tag.version}")
    if not 1 <= tag.parts <= 255 or not 1 <= tag.part <= tag.parts:
        raise TagDataError(f"part {tag.part} of {tag.parts} is not a valid set position")
    if not tag.item_id:
        raise TagDataError("primary item identifier is empty")
    if tag.country and (len(tag.country) != 2 or not tag.country.isalpha()):
        raise TagDataError(f"country must be two letters: {tag.country!r}")


def _data_bytes(tag: TagData) -> bytes:
    """The 32 bytes of the full layout without the CRC."""
    head = bytes([tag.version << 4 | tag.usage, tag.parts, tag.part])
    item = _ascii(tag.item_id, ITEM_LEN, "item identifier")
    tail = _ascii(tag.country, 2, "country") + _ascii(tag.library, 11, "ISIL")
    return head + item + tail


def encode(tag: TagData, size: int = FULL) -> bytes:
    """Tag memory for `tag`: basic block (34 or 32 bytes), then its extension blocks."""
    if size not in (FULL, SHORT):
        raise TagDataError(f"basic block size must be 34 or 32, not {size}")
    _check_fields(tag)
    data = _data_bytes(tag)
    if size == SHORT and data[-2:] != b"\0\0":
        raise TagDataError(f"ISIL {tag.library!r} does not fit a 32-byte tag (9 bytes max)")
    crc = crc16_ccitt_false(data).to_bytes(2, "little")
    block = (data[:CRC_AT] + crc + data[CRC_AT:])[:size]
    if tag.extensions and size == SHORT:
        raise TagDataError("a 32-byte tag has no room for extension blocks")
    return block + b"".join(encode_extension(e) for e in tag.extensions)


def encode_extension(ext: Extension) -> bytes:
    """[length][id lo][id hi][data...][crc lo][crc hi]; length counts the whole block."""
    if not 1 <= ext.block_id <= 0xFFFF:
        raise TagDataError(f"extension block id must be 1..65535, not {ext.block_id}")
    length = 5 + len(ext.data)
    if length > 255:
        raise TagDataError("extension block data longer than 250 bytes")
    body = bytes([length]) + ext.block_id.to_bytes(2, "little") + ext.data
    return body + crc16_ccitt_false(body).to_bytes(2, "little")


def _text(raw: bytes, what: str) -> str:
    raw = raw.rstrip(b"\0")
    if b"\0" in raw:
        raise TagDataError(f"{what} has NUL bytes inside")
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise TagDataError(f"{what} is not ASCII: {raw.hex()}") from None


def decode(memory: bytes) -> TagData:
    """Parse tag memory (32 bytes, or 34 bytes plus optional extension blocks)."""
    memory = bytes(memory)
    if len(memory) < SHORT or len(memory) == SHORT + 1:
        raise TagDataError(f"truncated tag data: {len(memory)} bytes, need 32 or 34")
    if not any(memory[:HEADER_LEN]):
        raise TagDataError("blank tag: no ISO 28560-3 data")
    version, usage = memory[0] >> 4, memory[0] & 0x0F
    if version != VERSION:
        raise TagDataError(f"unsupported data model version {version} (content byte "
                           f"{memory[0]:#04x})")
    size = SHORT if len(memory) == SHORT else FULL
    data = memory[:CRC_AT] + memory[CRC_AT + 2:size] + b"\0" * (FULL - size)
    stored = int.from_bytes(memory[CRC_AT:CRC_AT + 2], "little")
    if crc16_ccitt_false(data) != stored:
        raise TagDataError(f"CRC mismatch: stored {stored:#06x}, computed "
                           f"{crc16_ccitt_false(data):#06x}")
    tag = TagData(
        item_id=_text(memory[3:CRC_AT], "item identifier"),
        usage=usage, parts=memory[1], part=memory[2],
        country=_text(memory[21:23], "country"),
        library=_text(memory[23:size], "ISIL"),
        extensions=tuple(decode_extensions(memory[size:])),
    )
    _check_fields(tag)
    return tag


def decode_extensions(memory: bytes):
    """Yield extension blocks until a zero length byte or the end of memory."""
    pos = 0
    while pos < len(memory) and memory[pos] != EXT_END:
        length = memory[pos]
        if length < 5 or pos + length > len(memory):
            raise TagDataError(f"extension block at byte {pos} is truncated")
        block = memory[pos:pos + length]
        if crc16_ccitt_false(block[:-2]) != int.from_bytes(block[-2:], "little"):
            raise TagDataError(f"extension block at byte {pos} fails its CRC")
        yield Extension(int.from_bytes(block[1:3], "little"), bytes(block[3:-2]))
        pos += length


def incomplete_sets(tags) -> dict:
    """Multi-part items with parts missing: {(owner, item_id): (parts present, set size)}."""
    seen: dict = {}
    for tag in tags:
        seen.setdefault((tag.owner, tag.item_id, tag.parts), set()).add(tag.part)
    return {(o, i): (sorted(p), n) for (o, i, n), p in seen.items() if len(p) < n}
