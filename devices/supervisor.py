"""Runs one driver in its own thread and restarts it when it crashes, with back-off.

A driver is an object with run(stop) that returns only when `stop` is set. If it
raises (or returns early), the supervisor waits (doubling from `initial` to `max`) and
starts a fresh one; a driver that ran for a while before failing starts again from the
short wait. After `fail_after` quick failures in a row its state reads "failed" (still
retried at the longest wait: a reader plugged in later should just work).
"""

import logging
import threading
import time

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self, name: str, factory, backoff=(0.5, 30.0), fail_after: int = 5,
                 stable: float = 30.0):
        self.name = name
        self.factory = factory
        self.backoff = backoff
        self.fail_after = fail_after
        self.stable = stable
        self.state = "starting"
        self.error = None
        self.restarts = 0
        self.driver = None
        self.thread = None

    def start(self, stop: threading.Event):
        self.thread = threading.Thread(target=self.loop, args=(stop,), daemon=True,
                                       name=f"driver-{self.name}")
        self.thread.start()
        return self

    def loop(self, stop) -> None:
        wait, failures = self.backoff[0], 0
        while not stop.is_set():
            began = time.monotonic()
            try:
                self.driver = self.factory()
                # running once the driver is there to say how its device is (status)
                self.state, self.error = "running", None
                self.driver.run(stop)
                if stop.is_set():
                    break
                raise RuntimeError("driver stopped by itself")
            except Exception as exc:  # noqa: BLE001 - any driver fault is contained here
                self.error = f"{exc.__class__.__name__}: {exc}"
                log.warning("driver %s failed: %s", self.name, self.error)
            finally:
                self._close_driver()
            if time.monotonic() - began > self.stable:
                wait, failures = self.backoff[0], 0
            failures += 1
            self.restarts += 1
            self.state = "failed" if failures >= self.fail_after else "restarting"
            stop.wait(wait)
            wait = min(wait * 2, self.backoff[1])
        self.state = "stopped"

    def _close_driver(self) -> None:
        close = getattr(self.driver, "close", None)
        if close:
            try:
                close()
            except Exception:  # noqa: BLE001
                log.debug("closing driver %s", self.name, exc_info=True)

    def status(self) -> dict:
        out = {"state": self.state, "error": self.error, "restarts": self.restarts}
        detail = getattr(self.driver, "state", None)
        if isinstance(detail, str) and self.state == "running":
            out["device"] = detail  # e.g. "searching" while a scanner is unplugged
        return out
