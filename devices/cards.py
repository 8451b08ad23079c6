"""PC/SC patron cards through pyscard: the card UID, and inserted/removed events.

The UID comes from the PC/SC pseudo-APDU FF CA 00 00 00 (answered by the reader for
contactless cards). A UID identifies, it does not prove: the appliance may ask for a PIN.
Nothing but the UID is ever read. Cards that show a random UID (ISO 14443-3: 4 bytes
starting 0x08, as passports and the national ID card (CCCD) do) identify nobody and are
ignored, so no national ID data can reach the library's records.

The low-level scard API is used (not pyscard's CardMonitor singleton) so the watcher
stops within one poll, and a vanished pcscd raises to the daemon's supervisor.
"""

import logging

log = logging.getLogger(__name__)
GET_UID = [0xFF, 0xCA, 0x00, 0x00, 0x00]


class CardError(Exception):
    pass


def _scard():
    from smartcard import scard

    return scard


def _check(hresult: int, what: str) -> None:
    s = _scard()
    if hresult != s.SCARD_S_SUCCESS:
        raise CardError(f"{what}: {s.SCardGetErrorMessage(hresult).strip()} "
                        f"({hresult & 0xFFFFFFFF:#010x})")


def is_random_uid(uid: bytes) -> bool:
    return len(uid) == 4 and uid[0] == 0x08


class Context:
    """A PC/SC context (one per thread; contexts are not shared across threads)."""

    def __init__(self):
        s = _scard()
        hresult, self.handle = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
        _check(hresult, "PC/SC service (pcscd) not available")

    def close(self) -> None:
        _scard().SCardReleaseContext(self.handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def readers(self) -> list[str]:
        s = _scard()
        hresult, names = s.SCardListReaders(self.handle, [])
        if hresult in (s.SCARD_E_NO_READERS_AVAILABLE, s.SCARD_E_READER_UNAVAILABLE):
            return []
        _check(hresult, "listing card readers")
        return list(names)

    def read_uid(self, reader: str) -> str:
        """UID in hex (upper case) of the card in `reader`."""
        s = _scard()
        hresult, card, proto = s.SCardConnect(self.handle, reader, s.SCARD_SHARE_SHARED,
                                              s.SCARD_PROTOCOL_T0 | s.SCARD_PROTOCOL_T1)
        _check(hresult, f"connecting to the card in {reader}")
        try:
            hresult, answer = s.SCardTransmit(card, proto, GET_UID)
            _check(hresult, "sending GET UID")
        finally:
            s.SCardDisconnect(card, s.SCARD_LEAVE_CARD)
        if len(answer) < 3 or answer[-2:] != [0x90, 0x00]:
            sw = bytes(answer[-2:]).hex().upper()
            raise CardError(f"card in {reader} answered {sw or 'nothing'} to GET UID")
        return bytes(answer[:-2]).hex().upper()


def reader_names() -> list[str]:
    with Context() as ctx:
        return ctx.readers()


def read_uid(reader: str) -> str:
    with Context() as ctx:
        return ctx.read_uid(str(reader))


class CardWatcher:
    """Runs until `stop` is set; calls on_event(action, {"uid", "reader"})."""

    def __init__(self, on_event, readers: list[str] | None = None, poll: float = 0.3):
        self.on_event = on_event
        self.wanted = readers  # substrings of reader names; None = every reader
        self.poll = poll
        self.present: dict[str, str | None] = {}  # reader -> UID (None: unreadable card)
        self.state = "starting"

    def wants(self, reader: str) -> bool:
        return self.wanted is None or any(w.lower() in reader.lower() for w in self.wanted)

    def run(self, stop) -> None:
        with Context() as ctx:
            self.state = "running"
            known: dict[str, int] = {}
            while not stop.is_set():
                names = [n for n in ctx.readers() if self.wants(n)]
                for gone in set(self.present) - set(names):  # reader unplugged
                    self.removed(gone)
                if not names:
                    stop.wait(self.poll)
                    continue
                for name, present in self._changes(ctx, names, known):
                    if present and name not in self.present:
                        self.inserted(ctx, name)
                    elif not present and name in self.present:
                        self.removed(name)

    def _changes(self, ctx, names, known):
        s = _scard()
        query = [(n, known.get(n, s.SCARD_STATE_UNAWARE)) for n in names]
        hresult, states = s.SCardGetStatusChange(ctx.handle, int(self.poll * 1000), query)
        if hresult == s.SCARD_E_TIMEOUT:
            return []
        _check(hresult, "waiting for card events")
        out = []
        for name, event, _atr in states:
            known[name] = event & ~s.SCARD_STATE_CHANGED
            present = bool(event & s.SCARD_STATE_PRESENT) and not event & s.SCARD_STATE_MUTE
            out.append((name, present))
        return out

    def inserted(self, ctx, reader: str) -> None:
        self.present[reader] = None
        try:
            uid = ctx.read_uid(reader)
        except CardError as exc:
            log.warning("%s", exc)
            return
        if is_random_uid(bytes.fromhex(uid)):
            log.info("card in %s has a random UID; ignored", reader)
            return
        self.present[reader] = uid
        self.on_event("inserted", {"uid": uid, "reader": reader})

    def removed(self, reader: str) -> None:
        uid = self.present.pop(reader, None)
        if uid is not None:
            self.on_event("removed", {"uid": uid, "reader": reader})
