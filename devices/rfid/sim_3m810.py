"""A 3M 810 reader on a pty: `python -m devices.rfid.sim_3m810 --tags 3500123,3500124`."""

from .proto_3m810 import (
    BOOT,
    INVENTORY,
    OK,
    READ,
    READ_AFI,
    START,
    TAG_FAIL,
    WRITE,
    WRITE_AFI,
    Framing3M,
)
from .reader import BLOCK_SIZE
from .sim import Simulator, main

HW_VERSION = bytes([0x0A, 0x05, 0x00, 0x02])


class Sim3M810(Simulator):
    framing = Framing3M()
    noise = bytes([0x00, 0x11, 0xFF, START, 0x00, 0x00])

    def handle(self, frame: bytes) -> bytes | None:
        start, payload = frame[0], self.framing.payload(frame)
        if start == BOOT:
            return self.framing.build(payload[:3] + HW_VERSION, BOOT)
        cmd, args = payload[0], payload[1:]
        handler = {INVENTORY: self.inventory, READ: self.read, WRITE: self.write,
                   READ_AFI: self.read_afi, WRITE_AFI: self.write_afi}.get(cmd)
        answer = handler(args) if handler else bytes([0x01])
        return self.framing.build(bytes([cmd]) + answer)

    def inventory(self, args):
        tags = self.field()
        return bytes([OK, 0x00, 0x05, len(tags)]) + b"".join(
            bytes.fromhex(t.uid) for t in tags)

    def read(self, args):
        tag, (start, count) = self.tag(args[:8]), args[8:10]
        if tag is None or start + count > tag.blocks:
            return bytes([TAG_FAIL]) + args[:8]
        out = bytes([OK]) + args[:8] + bytes([count])
        for n in range(start, start + count):
            out += n.to_bytes(2, "little") + tag.memory[n * BLOCK_SIZE:(n + 1) * BLOCK_SIZE]
        return out

    def write(self, args):
        tag, (start, count), data = self.tag(args[:8]), args[8:10], args[11:]
        if (tag is None or start + count > tag.blocks or len(data) != count * BLOCK_SIZE
                or tag.locked & set(range(start, start + count))):
            return bytes([TAG_FAIL]) + args[:8]
        tag.memory[start * BLOCK_SIZE:(start + count) * BLOCK_SIZE] = data
        return bytes([OK]) + args[:8] + bytes([count])

    def read_afi(self, args):
        tag = self.tag(args[:8])
        return bytes([TAG_FAIL]) + args[:8] if tag is None else bytes(
            [OK]) + args[:8] + bytes([tag.afi])

    def write_afi(self, args):
        tag = self.tag(args[:8])
        if tag is None or len(args) != 9:
            return bytes([TAG_FAIL]) + args[:8]
        tag.afi = args[8]
        return bytes([OK]) + args[:8]


if __name__ == "__main__":
    main(Sim3M810)
