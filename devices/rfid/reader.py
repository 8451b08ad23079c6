"""One interface for every RFID reader: inventory, read/write blocks, AFI.

Tags are ISO 15693 with the ISO 28560-3 data model. The AFI byte is the security gate's
signal: 0x07 = on the shelf (the gate alarms), 0xC2 = on loan (the gate lets it pass).
"""

import logging
import threading
from dataclasses import dataclass

from . import iso28560
from .link import ChecksumError, ReaderError, ReaderTimeout, TagError, read_frame

log = logging.getLogger(__name__)
AFI_SHELF = 0x07
AFI_LOAN = 0xC2
BLOCK_SIZE = 4

__all__ = ["AFI_LOAN", "AFI_SHELF", "Reader", "ReaderError", "ReaderTimeout", "TagError",
           "ChecksumError", "Tag", "open_reader"]


@dataclass(frozen=True)
class Tag:
    uid: str  # hex, most significant byte first: "E004010012345678"
    dsfid: int = 0


def uid_bytes(uid: str) -> bytes:
    raw = bytes.fromhex(uid)
    if len(raw) != 8:
        raise ValueError(f"an ISO 15693 UID has 8 bytes: {uid!r}")
    return raw


class Reader:
    """A reader on a pyserial port. Subclasses implement the five primitives."""

    framing = None
    baudrate, parity = 19200, "N"
    retries = 2  # resend after a checksum error or silence: every command is idempotent

    def __init__(self, port, timeout: float = 0.5):
        self.port = port
        self.timeout = timeout
        self.lock = threading.Lock()  # the daemon's HTTP thread and the poller share it

    # --- primitives -------------------------------------------------------------------
    def inventory(self) -> list[Tag]:
        raise NotImplementedError

    def read_blocks(self, uid: str, start: int, count: int) -> bytes:
        raise NotImplementedError

    def write_blocks(self, uid: str, start: int, data: bytes) -> None:
        raise NotImplementedError

    def get_afi(self, uid: str) -> int:
        raise NotImplementedError

    def set_afi(self, uid: str, afi: int) -> None:
        raise NotImplementedError

    # --- shared -----------------------------------------------------------------------
    def transact(self, payload: bytes, start: int | None = None) -> bytes:
        """Send one request, return the answer's payload; retry on noise or silence."""
        frame = self.framing.build(payload, start)
        with self.lock:
            for attempt in range(self.retries + 1):
                self.port.reset_input_buffer()
                self.port.write(frame)
                self.port.flush()
                try:
                    return self.framing.payload(read_frame(
                        self.framing, self._read, self.timeout))
                except (ChecksumError, ReaderTimeout) as exc:
                    if attempt == self.retries:
                        raise
                    log.info("reader: %s; retrying", exc)
        raise AssertionError("unreachable")

    def _read(self, n, seconds):
        self.port.timeout = min(seconds, 0.5)
        return self.port.read(max(1, n))

    def read_memory(self, uid: str) -> bytes:
        """The ISO 28560-3 area: 36 bytes (9 blocks) or, on a 32-byte tag, 8 blocks."""
        try:
            return self.read_blocks(uid, 0, 9)[:iso28560.FULL]
        except TagError:
            return self.read_blocks(uid, 0, 8)

    def write_tag(self, uid: str, data: iso28560.TagData, size: int = 34) -> None:
        raw = iso28560.encode(data, size)
        self.write_blocks(uid, 0, raw + b"\0" * (-len(raw) % BLOCK_SIZE))

    def describe(self, tag: Tag) -> dict:
        """The device-event form of one tag; fields the tag cannot tell are left out."""
        out = {"uid": tag.uid}
        try:
            data = iso28560.decode(self.read_memory(tag.uid))
            out.update(barcode=data.item_id, owner=data.owner or None, set_index=data.part,
                       set_size=data.parts, usage="patron" if data.usage == 8 else "item")
        except iso28560.TagDataError as exc:
            out["error"] = str(exc)  # blank or foreign tag: the desk can still see it
        out["afi"] = self.get_afi(tag.uid)
        return {k: v for k, v in out.items() if v is not None}


def open_reader(protocol: str, port: str, baudrate: int | None = None,
                timeout: float = 0.5, parity: str | None = None) -> Reader:
    """A reader on a serial port; baud rate and parity default to the protocol's factory
    settings ("N" is needed for a simulator: a pty has no parity)."""
    import serial

    from .proto_3m810 import Reader3M810
    from .proto_feig import ReaderFeig

    cls = {"3m810": Reader3M810, "feig": ReaderFeig}.get(protocol)
    if cls is None:
        raise ValueError(f"unknown RFID protocol {protocol!r} (known: 3m810, feig)")
    link = serial.serial_for_url(port, baudrate=baudrate or cls.baudrate, parity=parity or cls.parity,
                                 timeout=timeout)
    return cls(link, timeout=timeout)
