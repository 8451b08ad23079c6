"""systemd's notify protocol: READY=1, STATUS=, WATCHDOG=1 as datagrams to $NOTIFY_SOCKET.

No library: the protocol is one AF_UNIX datagram of newline-separated
KEY=VALUE lines. Outside systemd (no NOTIFY_SOCKET) every call is a no-op, so
`thuvien serve` can call these unconditionally.
"""

import logging
import os
import socket
import threading

log = logging.getLogger(__name__)


def _address():
    addr = os.environ.get("NOTIFY_SOCKET", "")
    if not addr:
        return None
    if addr[0] == "@":  # abstract namespace
        return "\0" + addr[1:]
    if addr[0] != "/":
        log.warning("ignoring NOTIFY_SOCKET=%r: not a unix socket path", addr)
        return None
    return addr


def notify(state: str) -> bool:
    """Send one state message; True when it went to systemd."""
    addr = _address()
    if addr is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(addr)
            sock.sendall(state.encode("utf-8"))
    except OSError as exc:
        # systemd gone or the socket not ours: never take the service down for it
        log.warning("sd_notify failed: %s", exc)
        return False
    return True


def ready(status: str | None = None) -> bool:
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def stopping(status: str | None = None) -> bool:
    return notify("STOPPING=1" + (f"\nSTATUS={status}" if status else ""))


def status(text: str) -> bool:
    return notify(f"STATUS={text}")


def watchdog_interval() -> float | None:
    """Seconds between pings systemd expects, or None when no watchdog is set for us."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid.isdigit() and int(pid) != os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1_000_000 if value > 0 else None


class Watchdog:
    """Pings WATCHDOG=1 at half the interval while `check()` holds.

    A failing check stops the pings, so systemd restarts a service that is
    up but no longer healthy (e.g. its web server stopped answering).
    """

    def __init__(self, check=lambda: True, interval: float | None = None):
        self.check = check
        self.interval = interval if interval is not None else watchdog_interval()
        self._stop = threading.Event()
        self._thread = None

    def start(self) -> "Watchdog":
        if not self.interval:
            return self
        self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
        self._thread.start()
        return self

    def _healthy(self) -> bool:
        try:
            return bool(self.check())
        except Exception:  # a broken check is an unhealthy service
            log.exception("watchdog health check raised")
            return False

    def _run(self):
        while not self._stop.wait(self.interval / 2):
            if self._healthy():
                notify("WATCHDOG=1")
            else:
                log.error("health check failed: withholding the watchdog ping")

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)


def start_watchdog(check=lambda: True) -> Watchdog:
    """Start pinging when systemd asked for a watchdog; harmless otherwise."""
    return Watchdog(check).start()
