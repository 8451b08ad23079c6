"""Base of the reader simulators: tags in a field, answering over a pty with real bytes.

A simulator opens a pty pair; the driver opens the slave's path like any serial port.
Faults can be queued for the next answers: "corrupt" (bad checksum), "silent" (no
answer), "garbage" (noise and a stray start byte first), "split" (answer in two writes).
"""

import argparse
import os
import threading
import time
import tty
import zlib
from dataclasses import dataclass, field

from . import iso28560
from .link import ChecksumError, ReaderTimeout, fd_reader, read_frame
from .reader import AFI_SHELF, BLOCK_SIZE


@dataclass
class SimTag:
    uid: str
    memory: bytearray
    afi: int = AFI_SHELF
    dsfid: int = 0
    present: bool = True
    locked: set = field(default_factory=set)  # block numbers that refuse writes

    @property
    def blocks(self) -> int:
        return len(self.memory) // BLOCK_SIZE


def uid_for(barcode: str) -> str:
    """A stable, plausible NXP ICODE UID (E0 04 01 ...) for a barcode."""
    return "E00401" + f"{zlib.crc32(barcode.encode()):08X}" + "00"


class Simulator:
    framing = None
    noise = b""  # protocol-specific garbage: noise bytes, then a start byte with a bad length

    def __init__(self):
        self.tags: dict[str, SimTag] = {}
        self.faults: list[str] = []
        self.requests: list[bytes] = []
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # no echo, no line editing: a serial line, byte for byte
        self.path = os.ttyname(self.slave)
        self._stop = threading.Event()
        self._thread = None
        self._buf = bytearray()
        self.lock = threading.Lock()

    # --- tags -------------------------------------------------------------------------
    def add_tag(self, data, uid: str | None = None, afi: int = AFI_SHELF,
                blocks: int = 28, size: int = 34) -> SimTag:
        raw = iso28560.encode(data, size) if isinstance(data, iso28560.TagData) else data
        uid = uid or uid_for(data.item_id if isinstance(data, iso28560.TagData)
                             else raw.hex())
        memory = bytearray(blocks * BLOCK_SIZE)
        memory[:len(raw)] = raw
        tag = SimTag(uid, memory, afi)
        with self.lock:
            self.tags[uid] = tag
        return tag

    def field(self) -> list[SimTag]:
        with self.lock:
            return [t for t in self.tags.values() if t.present]

    def tag(self, uid: bytes) -> SimTag | None:
        t = self.tags.get(uid.hex().upper())
        return t if t and t.present else None

    # --- serving ----------------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self.serve, daemon=True, name="rfid-sim")
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def serve(self):
        read = fd_reader(self.master)
        while not self._stop.is_set():
            try:
                frame = read_frame(self.framing, read, 0.2, self._buf)
            except ReaderTimeout:
                continue
            except ChecksumError:
                continue  # a real reader ignores a damaged request
            self.requests.append(frame)
            answer = self.handle(frame)
            if answer is not None:
                self.send(answer)

    def send(self, frame: bytes):
        fault = self.faults.pop(0) if self.faults else None
        if fault == "silent":
            return
        if fault == "corrupt":
            frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
        if fault == "garbage":
            frame = self.noise + frame
        if fault == "split":
            os.write(self.master, frame[:4])
            time.sleep(0.05)
            frame = frame[4:]
        os.write(self.master, frame)

    def handle(self, frame: bytes) -> bytes | None:
        raise NotImplementedError


def parse_tags(spec: str) -> list[iso28560.TagData]:
    """"3500123,3500124@VN-PY01,A1#2/3" -> TagData list (owner ISIL, part/parts)."""
    out = []
    for entry in filter(None, (s.strip() for s in spec.split(","))):
        entry, _, part = entry.partition("#")
        item, _, owner = entry.partition("@")
        country, _, library = owner.partition("-") if "-" in owner else ("", "", owner)
        p, _, n = (part or "1/1").partition("/")
        out.append(iso28560.TagData(item, parts=int(n or 1), part=int(p), country=country,
                                    library=library))
    return out


def main(cls, argv=None):
    ap = argparse.ArgumentParser(description=f"{cls.__name__}: a reader on a pty")
    ap.add_argument("--tags", default="", help="BARCODE[@ISIL][#PART/PARTS],...")
    ap.add_argument("--afi", type=lambda s: int(s, 0), default=AFI_SHELF)
    args = ap.parse_args(argv)
    sim = cls()
    for data in parse_tags(args.tags):
        sim.add_tag(data, afi=args.afi)
    sim.start()
    print(sim.path, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
