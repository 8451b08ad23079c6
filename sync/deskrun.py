"""The desk's "Sync now", run in the background: one run at a time per process.

A run may take up to a minute (a slow or cut link). Held in the request, it kept a web
server thread for that minute, and every thread the server keeps costs a Pi memory for
its whole life (bench/README.md): so the request starts the run, waits a moment for a
quick one, and answers. Whoever presses the button while a run is under way joins it.
Each session that asked is told the run's result once (sync/hub.py).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

log = logging.getLogger("thuvien.sync")

KEPT = 16  # finished runs remembered, for sessions that have not been told yet


class Run:
    def __init__(self, number: int):
        self.id = number
        self.done = threading.Event()
        self.result: dict | None = None
        self.error: Exception | None = None  # a SyncError, or what broke the run


class DeskRuns:
    """Starts ``work()`` in a thread unless a run is under way; keeps the last runs."""

    def __init__(self, work: Callable[[], dict]):
        self._work = work
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._runs: OrderedDict[int, Run] = OrderedDict()
        self.current: Run | None = None

    def start(self) -> Run:
        with self._lock:
            if self.current is not None and not self.current.done.is_set():
                return self.current
            run = self.current = Run(next(self._numbers))
            self._runs[run.id] = run
            while len(self._runs) > KEPT:
                self._runs.popitem(last=False)
        threading.Thread(target=self._run, args=(run,), name="desk-sync", daemon=True).start()
        return run

    def get(self, number) -> Run | None:
        return self._runs.get(number)

    def running(self) -> bool:
        run = self.current
        return run is not None and not run.done.is_set()

    def _run(self, run: Run):
        try:
            run.result = self._work()
        except Exception as exc:  # a SyncError is said at the desk; anything else too
            if not hasattr(exc, "code"):
                log.exception("sync: the desk's run failed")
            run.error = exc
        finally:
            run.done.set()
