"""USB HID barcode scanners (keyboard wedge) read through python-evdev.

WedgeDecoder is pure: feed it input events, it returns a code when Enter ends a scan.
EvdevScanner is the thin device edge: find the device by name or vid:pid, grab it
exclusively (so scans do not leak into the kiosk's browser as keystrokes), read, and
when it is unplugged (ENODEV) go back to looking for it.
"""

import errno
import logging
import select

from .keymap import ENTER_KEYS, EV_KEY, KEY_CAPSLOCK, KEYMAP, SHIFT_KEYS

log = logging.getLogger(__name__)
MAX_CODE = 256  # a wedge that never sends Enter must not grow memory forever
GONE = (errno.ENODEV, errno.ENXIO, errno.EIO, errno.EBADF, errno.ENOENT)


class WedgeDecoder:
    def __init__(self):
        self.shifts: set[int] = set()
        self.caps = False
        self.buf: list[str] = []

    def feed(self, event) -> str | None:
        """Take an InputEvent or (sec, usec, type, code, value); return a finished scan."""
        if isinstance(event, tuple):
            _sec, _usec, type_, code, value = event
        else:
            type_, code, value = event.type, event.code, event.value
        if type_ != EV_KEY:
            return None
        if code in SHIFT_KEYS:  # shift is a state: down adds, up removes, repeat keeps
            (self.shifts.add if value else self.shifts.discard)(code)
            return None
        if value != 1:  # 0 = key up, 2 = autorepeat: a scanner never means either
            return None
        if code == KEY_CAPSLOCK:
            self.caps = not self.caps
        elif code in ENTER_KEYS:
            return self._finish()
        elif code in KEYMAP:
            self._add(KEYMAP[code])
        return None

    def _add(self, pair: tuple[str, str]) -> None:
        shifted = bool(self.shifts)
        if self.caps and pair[0].isalpha():
            shifted = not shifted
        if len(self.buf) < MAX_CODE:
            self.buf.append(pair[1] if shifted else pair[0])

    def _finish(self) -> str | None:
        code, self.buf = "".join(self.buf).strip(), []
        return code or None

    def reset(self) -> None:
        self.__init__()


def matches(device, name: str | None = None, vid: int | None = None,
            pid: int | None = None) -> bool:
    if name and name.lower() not in (device.name or "").lower():
        return False
    if vid is not None and device.info.vendor != vid:
        return False
    return pid is None or device.info.product == pid


class EvdevScanner:
    """Runs until `stop` is set, calling on_scan(code) for every finished scan."""

    def __init__(self, on_scan, name=None, vid=None, pid=None, rescan=1.0,
                 lister=None, opener=None):
        import evdev  # the hardware library is an optional extra

        self.on_scan = on_scan
        self.want = dict(name=name, vid=vid, pid=pid)
        self.rescan = rescan
        self.lister = lister or evdev.list_devices
        self.opener = opener or evdev.InputDevice
        self.state = "searching"

    def find(self):
        for path in self.lister():
            try:
                dev = self.opener(path)
            except OSError:
                continue
            if matches(dev, **self.want):
                return dev
            dev.close()
        return None

    def run(self, stop) -> None:
        while not stop.is_set():
            dev = self.find()
            if dev is None:
                self.state = "searching"
                stop.wait(self.rescan)
                continue
            try:
                self._read(dev, stop)
            except OSError as exc:
                if exc.errno not in GONE:
                    raise
                log.warning("scanner %s unplugged (%s); searching again", dev.path, exc)
            finally:
                _release(dev)

    def _read(self, dev, stop) -> None:
        dev.grab()
        self.state = "running"
        decoder = WedgeDecoder()
        while not stop.is_set():
            ready, _, _ = select.select([dev.fd], [], [], 0.2)
            if not ready:
                continue
            for event in dev.read():
                code = decoder.feed(event)
                if code:
                    self.on_scan(code)


def _release(dev) -> None:
    for action in (dev.ungrab, dev.close):
        try:
            action()
        except OSError:
            pass
