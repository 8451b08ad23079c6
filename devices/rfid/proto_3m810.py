"""The 3M 810 library RFID reader's serial protocol (19200 8N1).

Frame, both directions: START | LEN (2 bytes, big endian: payload + CRC) | PAYLOAD | CRC,
START is 0xD6 for commands (0xD5 for the boot/version exchange); CRC is CRC-16 with
polynomial 0x1021, preset 0xFFFF and final xor 0xFFFF over LEN and PAYLOAD, big endian.
Payload is a command byte, then (in answers) a status byte: 0x00 ok, 0x06 tag error.

    inventory     FE 00 05                      -> FE 00 00 05 N UID*N
    read blocks   02 UID START COUNT            -> 02 00 UID N (BLOCK# lo hi, 4 bytes)*N
    write blocks  04 UID START COUNT 00 DATA    -> 04 00 UID N
    read AFI      0A UID                        -> 0A 00 UID AFI
    write AFI     09 UID AFI                    -> 09 00 UID
    version       (D5) 04 00 11                 -> (D5) 04 00 11 A B C D

The protocol was documented by capturing traffic (see docs/devices.md for sources).
"""

from .link import Framing, ReaderError, TagError, read_frame
from .reader import BLOCK_SIZE, Reader, Tag, uid_bytes

START, BOOT = 0xD6, 0xD5
OK, TAG_FAIL = 0x00, 0x06
INVENTORY, READ, WRITE, READ_AFI, WRITE_AFI, VERSION = 0xFE, 0x02, 0x04, 0x0A, 0x09, 0x04


def checksum(data: bytes) -> bytes:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return (crc ^ 0xFFFF).to_bytes(2, "big")


class Framing3M(Framing):
    starts = bytes([START, BOOT])
    header_len = 3

    def frame_len(self, header: bytes) -> int:
        return 3 + int.from_bytes(header[1:3], "big")

    def build(self, payload: bytes, start: int | None = None) -> bytes:
        body = (len(payload) + 2).to_bytes(2, "big") + payload
        return bytes([start or START]) + body + checksum(body)

    def check(self, frame: bytes) -> bool:
        return checksum(frame[1:-2]) == frame[-2:]

    def payload(self, frame: bytes) -> bytes:
        return frame[3:-2]


class Reader3M810(Reader):
    framing = Framing3M()
    baudrate = 19200

    def _command(self, cmd: int, args: bytes, uid: str | None = None) -> bytes:
        answer = self.transact(bytes([cmd]) + args)
        if len(answer) < 2 or answer[0] != cmd:
            raise ReaderError(f"answer to {cmd:#04x} is {answer.hex(' ')}")
        if answer[1] == TAG_FAIL:
            raise TagError(f"tag {uid} did not answer command {cmd:#04x}")
        if answer[1] != OK:
            raise ReaderError(f"status {answer[1]:#04x} for command {cmd:#04x}")
        rest = answer[2:]
        if uid is not None and rest[:8] != uid_bytes(uid):
            raise ReaderError(f"answer for tag {rest[:8].hex().upper()}, asked {uid}")
        return rest[8:] if uid is not None else rest

    def version(self) -> str:
        answer = self.framing.payload(self._raw(bytes([VERSION, 0x00, 0x11]), BOOT))
        return ".".join(str(b) for b in answer[3:7])

    def _raw(self, payload, start):
        with self.lock:
            self.port.reset_input_buffer()
            self.port.write(self.framing.build(payload, start))
            return read_frame(self.framing, self._read, self.timeout)

    def inventory(self) -> list[Tag]:
        rest = self._command(INVENTORY, b"\x00\x05")
        if rest[:2] != b"\x00\x05" or len(rest) < 3 or len(rest) != 3 + 8 * rest[2]:
            raise ReaderError(f"malformed inventory answer {rest.hex(' ')}")
        return [Tag(rest[3 + 8 * i:11 + 8 * i].hex().upper()) for i in range(rest[2])]

    def read_blocks(self, uid: str, start: int, count: int) -> bytes:
        rest = self._command(READ, uid_bytes(uid) + bytes([start, count]), uid)
        if not rest or rest[0] != count or len(rest) != 1 + 6 * count:
            raise ReaderError(f"malformed read answer {rest.hex(' ')}")
        blocks = {}
        for i in range(count):
            entry = rest[1 + 6 * i:7 + 6 * i]
            blocks[int.from_bytes(entry[:2], "little")] = entry[2:]
        try:
            return b"".join(blocks[n] for n in range(start, start + count))
        except KeyError as exc:
            raise ReaderError(f"block {exc} missing from the answer") from None

    def write_blocks(self, uid: str, start: int, data: bytes) -> None:
        if len(data) % BLOCK_SIZE or not data:
            raise ValueError("write whole 4-byte blocks")
        count = len(data) // BLOCK_SIZE
        rest = self._command(WRITE, uid_bytes(uid) + bytes([start, count, 0]) + data, uid)
        if rest[:1] != bytes([count]):
            raise TagError(f"tag {uid} wrote {rest[:1].hex()} of {count} blocks")

    def get_afi(self, uid: str) -> int:
        rest = self._command(READ_AFI, uid_bytes(uid), uid)
        if len(rest) != 1:
            raise ReaderError(f"malformed AFI answer {rest.hex(' ')}")
        return rest[0]

    def set_afi(self, uid: str, afi: int) -> None:
        self._command(WRITE_AFI, uid_bytes(uid) + bytes([afi]), uid)
