"""Watches an RFID pad: tags that come into the field are "present", tags that leave are
"removed". Each tag is described once (data model + AFI) when it arrives.
"""

import logging
import threading

from .link import ReaderError, TagError
from .reader import open_reader

log = logging.getLogger(__name__)


class RfidPoller:
    def __init__(self, on_event, protocol: str, port: str, baudrate=None, poll: float = 0.3,
                 timeout: float = 0.5, parity=None, **_ignored):
        self.on_event = on_event
        self.poll = poll
        self.reader = open_reader(protocol, port, baudrate, timeout, parity)
        self.field: dict[str, dict] = {}  # uid -> description
        self.lock = threading.Lock()
        self.state = "running"

    def run(self, stop) -> None:
        while not stop.is_set():
            self.scan()
            stop.wait(self.poll)

    def scan(self) -> None:
        seen = {t.uid: t for t in self.reader.inventory()}
        arrived = []
        for uid, tag in list(seen.items()):
            if uid in self.field:
                continue
            try:
                arrived.append(self.reader.describe(tag))
            except TagError as exc:  # left the field while being read: next round
                log.info("tag %s: %s", uid, exc)
                seen.pop(uid, None)
        with self.lock:
            gone = [self.field.pop(uid) for uid in list(self.field) if uid not in seen]
            for desc in arrived:
                self.field[desc["uid"]] = desc
        if arrived:
            self.on_event("present", {"tags": arrived})
        if gone:
            self.on_event("removed", {"tags": gone})

    def set_afi(self, uid: str, afi: int) -> None:
        self.reader.set_afi(uid, afi)
        with self.lock:
            if uid in self.field:
                self.field[uid]["afi"] = afi

    def tags(self) -> list[dict]:
        with self.lock:
            return list(self.field.values())

    def close(self) -> None:
        self.reader.port.close()


__all__ = ["RfidPoller", "ReaderError", "TagError"]
