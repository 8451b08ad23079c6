"""Framing shared by reader drivers and their simulators: find a frame in a byte stream.

A serial line can carry noise (a reader booting, a half-sent frame after a cable wiggle):
bytes before a start byte are skipped, impossible lengths resync on the next start byte,
and a frame whose checksum fails is reported so the command can be retried.
"""

import os
import select
import time

MAX_FRAME = 1024


class ReaderError(Exception):
    """The reader did not answer sensibly (timeout, checksum, protocol)."""


class ReaderTimeout(ReaderError):
    pass


class ChecksumError(ReaderError):
    pass


class TagError(ReaderError):
    """The reader answered, but the tag operation failed (tag gone, write refused)."""


class Framing:
    """One protocol's frame shape; subclasses fill these in."""

    starts: bytes = b""
    header_len = 3

    def frame_len(self, header: bytes) -> int:
        raise NotImplementedError

    def build(self, payload: bytes, start: int | None = None) -> bytes:
        raise NotImplementedError

    def check(self, frame: bytes) -> bool:
        raise NotImplementedError

    def payload(self, frame: bytes) -> bytes:
        raise NotImplementedError


def read_frame(framing: Framing, read, timeout: float, buf: bytearray | None = None) -> bytes:
    """Read one whole, checked frame using read(max_bytes, seconds) -> bytes.

    `buf` keeps bytes between calls (a frame may straddle a timeout); the frame returned
    (or rejected) is removed from it.
    """
    deadline = time.monotonic() + timeout
    buf = bytearray() if buf is None else buf
    while True:
        while buf and buf[0] not in framing.starts:
            del buf[0]
        need = framing.header_len
        if len(buf) >= framing.header_len:
            need = framing.frame_len(bytes(buf[:framing.header_len]))
            if not framing.header_len + 2 <= need <= MAX_FRAME:
                del buf[0]  # a stray start byte: look for the next one
                continue
        if len(buf) >= need and len(buf) > framing.header_len:
            frame = bytes(buf[:need])
            del buf[:need]
            if not framing.check(frame):
                raise ChecksumError(f"checksum error in frame {frame.hex(' ')}")
            return frame
        left = deadline - time.monotonic()
        if left <= 0:
            got = f" (partial: {bytes(buf).hex(' ')})" if buf else ""
            raise ReaderTimeout(f"no answer within {timeout:.1f} s{got}")
        buf += read(need - len(buf), left)


def serial_reader(port):
    """read(n, seconds) over a pyserial port."""
    def read(n, seconds):
        port.timeout = min(seconds, 0.5)
        return port.read(max(1, n))
    return read


def fd_reader(fd):
    """read(n, seconds) over a raw file descriptor (the simulator's pty master)."""
    def read(n, seconds):
        ready, _, _ = select.select([fd], [], [], min(seconds, 0.5))
        return os.read(fd, max(1, n)) if ready else b""
    return read
