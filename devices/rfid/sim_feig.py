"""A FEIG ISC reader (advanced protocol) on a pty: `python -m devices.rfid.sim_feig --tags ...`."""

from .proto_feig import (
    ADDRESSED,
    INVENTORY,
    ISO_HOST,
    MORE,
    MORE_DATA,
    NO_TAG,
    OK,
    READ_MULTI,
    STX,
    SYSINFO,
    TR_ISO15693,
    WRITE_AFI,
    WRITE_MULTI,
    FramingFeig,
)
from .reader import BLOCK_SIZE
from .sim import Simulator, main

UNKNOWN_CMD, LENGTH_ERROR, ISO_ERROR = 0x80, 0x81, 0x95
BLOCK_UNAVAILABLE, BLOCK_LOCKED = 0x10, 0x12  # ISO 15693 error codes


class SimFeig(Simulator):
    framing = FramingFeig()
    noise = bytes([0x00, 0x7F, 0xFF, STX, 0x00, 0x01])
    page = 4  # inventory records per answer before "more data"

    def __init__(self):
        super().__init__()
        self._pending = []

    def handle(self, frame: bytes) -> bytes | None:
        payload = self.framing.payload(frame)
        if payload[:1] != bytes([ISO_HOST]) or len(payload) < 3:
            return self.answer(payload[0], UNKNOWN_CMD)
        sub, mode, args = payload[1], payload[2], payload[3:]
        if sub == INVENTORY:
            return self.inventory(mode)
        if not mode & ADDRESSED or len(args) < 8:
            return self.answer(ISO_HOST, LENGTH_ERROR)
        tag = self.tag(args[:8])
        if tag is None:
            return self.answer(ISO_HOST, NO_TAG)
        handler = {READ_MULTI: self.read, WRITE_MULTI: self.write, WRITE_AFI: self.write_afi,
                   SYSINFO: self.sysinfo}.get(sub)
        if handler is None:
            return self.answer(ISO_HOST, UNKNOWN_CMD)
        return handler(tag, args[8:])

    def answer(self, cmd: int, status: int, data: bytes = b"") -> bytes:
        return self.framing.build(bytes([cmd, status]) + data)

    def inventory(self, mode):
        if not mode & MORE:
            self._pending = [bytes([TR_ISO15693, t.dsfid]) + bytes.fromhex(t.uid)
                             for t in self.field()]
        if not self._pending:
            return self.answer(ISO_HOST, NO_TAG)
        page, self._pending = self._pending[:self.page], self._pending[self.page:]
        status = MORE_DATA if self._pending else OK
        return self.answer(ISO_HOST, status, bytes([len(page)]) + b"".join(page))

    def read(self, tag, args):
        start, count = args[0], args[1]
        if start + count > tag.blocks:
            return self.answer(ISO_HOST, ISO_ERROR, bytes([BLOCK_UNAVAILABLE]))
        out = bytes([count, BLOCK_SIZE])
        for n in range(start, start + count):
            lock = 0x01 if n in tag.locked else 0x00
            out += bytes([lock]) + tag.memory[n * BLOCK_SIZE:(n + 1) * BLOCK_SIZE]
        return self.answer(ISO_HOST, OK, out)

    def write(self, tag, args):
        start, count, size, data = args[0], args[1], args[2], args[3:]
        if size != BLOCK_SIZE or len(data) != count * size:
            return self.answer(ISO_HOST, LENGTH_ERROR)
        if start + count > tag.blocks:
            return self.answer(ISO_HOST, ISO_ERROR, bytes([BLOCK_UNAVAILABLE]))
        if tag.locked & set(range(start, start + count)):
            return self.answer(ISO_HOST, ISO_ERROR, bytes([BLOCK_LOCKED]))
        tag.memory[start * size:(start + count) * size] = data
        return self.answer(ISO_HOST, OK)

    def write_afi(self, tag, args):
        if len(args) != 1:
            return self.answer(ISO_HOST, LENGTH_ERROR)
        tag.afi = args[0]
        return self.answer(ISO_HOST, OK)

    def sysinfo(self, tag, args):
        mem = bytes([tag.blocks - 1, BLOCK_SIZE - 1])
        return self.answer(ISO_HOST, OK, bytes([tag.dsfid]) + bytes.fromhex(tag.uid)
                           + bytes([tag.afi]) + mem + bytes([0x01]))


if __name__ == "__main__":
    main(SimFeig)
