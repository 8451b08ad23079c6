"""FEIG ID ISC readers, host protocol in "advanced protocol" framing.

Request : STX(0x02) | LEN (2 bytes, big endian, whole frame) | COM-ADR | CMD | DATA | CRC16
Answer  : STX(0x02) | LEN | COM-ADR | CMD | STATUS | DATA | CRC16
CRC16 as FEIG documents it: CCITT polynomial 0x8408 (reflected 0x1021), preset 0xFFFF,
shifted right ("backward"), over every byte from STX to the last data byte, sent LSB first.

ISO 15693 host commands under CMD 0xB0 (MODE 0x01 = addressed by UID):
    Inventory            B0 | 01 MODE                    -> N (TR-TYPE DSFID UID)*N
                          (status 0x94: more records, ask again with MODE bit 0x80)
    Read multiple blocks B0 | 23 01 UID DB-ADR DB-N      -> DB-N DB-SIZE (SEC DB)*N
    Write multiple       B0 | 24 01 UID DB-ADR DB-N DB-SIZE DB...
    Write AFI            B0 | 27 01 UID AFI
    Get system info      B0 | 2B 01 UID                  -> DSFID UID AFI MEM(2) IC-REF
Status: 0x00 ok, 0x01 no transponder, 0x02 data false, 0x03 write error,
0x83 RF communication error, 0x94 more data, 0x95 ISO 15693 error (+ error code).
"""

from .link import Framing, ReaderError, TagError
from .reader import BLOCK_SIZE, Reader, Tag, uid_bytes

STX = 0x02
ISO_HOST = 0xB0
INVENTORY, READ_MULTI, WRITE_MULTI, WRITE_AFI, SYSINFO = 0x01, 0x23, 0x24, 0x27, 0x2B
ADDRESSED, MORE = 0x01, 0x80
OK, NO_TAG, MORE_DATA = 0x00, 0x01, 0x94
TAG_STATUSES = {0x01: "no transponder", 0x02: "data false", 0x03: "write error",
                0x83: "RF communication error", 0x95: "ISO 15693 error"}
TR_ISO15693 = 0x03


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


class FramingFeig(Framing):
    starts = bytes([STX])
    header_len = 3

    def __init__(self, address: int = 0xFF):
        self.address = address

    def frame_len(self, header: bytes) -> int:
        return int.from_bytes(header[1:3], "big")

    def build(self, payload: bytes, start: int | None = None) -> bytes:
        n = 1 + 2 + 1 + len(payload) + 2
        head = bytes([STX]) + n.to_bytes(2, "big") + bytes([self.address]) + payload
        return head + crc16(head).to_bytes(2, "little")

    def check(self, frame: bytes) -> bool:
        return len(frame) >= 7 and crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little")

    def payload(self, frame: bytes) -> bytes:
        return frame[4:-2]  # CMD, STATUS, DATA


class ReaderFeig(Reader):
    framing = FramingFeig()
    baudrate, parity = 38400, "E"  # FEIG's factory setting: 38400 8E1

    def _iso(self, data: bytes, uid: str | None = None, allow=(OK,)) -> tuple[int, bytes]:
        answer = self.transact(bytes([ISO_HOST]) + data)
        if len(answer) < 2 or answer[0] != ISO_HOST:
            raise ReaderError(f"answer to ISO host command is {answer.hex(' ')}")
        status = answer[1]
        if status in allow:
            return status, answer[2:]
        detail = f" (ISO error {answer[2]:#04x})" if status == 0x95 and len(answer) > 2 else ""
        if status in TAG_STATUSES:
            raise TagError(f"tag {uid or ''}: {TAG_STATUSES[status]}{detail}".replace("  ", " "))
        raise ReaderError(f"reader status {status:#04x} for command {data[0]:#04x}")

    def inventory(self) -> list[Tag]:
        tags, mode = [], 0x00
        while True:
            status, data = self._iso(bytes([INVENTORY, mode]), allow=(OK, NO_TAG, MORE_DATA))
            if status == NO_TAG:
                return tags
            if not data or len(data) != 1 + 10 * data[0]:
                raise ReaderError(f"malformed inventory answer {data.hex(' ')}")
            for i in range(data[0]):
                rec = data[1 + 10 * i:11 + 10 * i]
                tags.append(Tag(rec[2:10].hex().upper(), dsfid=rec[1]))
            if status != MORE_DATA:
                return tags
            mode = MORE

    def read_blocks(self, uid: str, start: int, count: int) -> bytes:
        _, data = self._iso(bytes([READ_MULTI, ADDRESSED]) + uid_bytes(uid)
                            + bytes([start, count]), uid)
        if len(data) < 2 or data[0] != count:
            raise ReaderError(f"malformed read answer {data.hex(' ')}")
        size = data[1]
        if len(data) != 2 + count * (1 + size):
            raise ReaderError(f"read answer has {len(data)} bytes for {count}x{size}")
        recs = (data[2 + i * (1 + size):2 + (i + 1) * (1 + size)] for i in range(count))
        return b"".join(rec[1:] for rec in recs)  # rec[0] is the block's security status

    def write_blocks(self, uid: str, start: int, data: bytes) -> None:
        if len(data) % BLOCK_SIZE or not data:
            raise ValueError("write whole 4-byte blocks")
        count = len(data) // BLOCK_SIZE
        self._iso(bytes([WRITE_MULTI, ADDRESSED]) + uid_bytes(uid)
                  + bytes([start, count, BLOCK_SIZE]) + data, uid)

    def system_info(self, uid: str) -> dict:
        _, data = self._iso(bytes([SYSINFO, ADDRESSED]) + uid_bytes(uid), uid)
        if len(data) < 13:
            raise ReaderError(f"malformed system information {data.hex(' ')}")
        return {"dsfid": data[0], "uid": data[1:9].hex().upper(), "afi": data[9],
                "blocks": data[10] + 1, "block_size": (data[11] & 0x1F) + 1}

    def get_afi(self, uid: str) -> int:
        return self.system_info(uid)["afi"]

    def set_afi(self, uid: str, afi: int) -> None:
        self._iso(bytes([WRITE_AFI, ADDRESSED]) + uid_bytes(uid) + bytes([afi]), uid)
