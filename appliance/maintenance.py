"""Housekeeping while the service runs: holds whose pickup day has passed move on down
the queue without anyone pressing a button, and returned loans of patrons who keep no
reading history are unlinked from them after the library's retention period."""

import logging
import threading

from .core import holds
from .core.rights import history

log = logging.getLogger(__name__)


def run_once(ctx):
    moved = holds.expire_pickups(ctx)
    if moved:
        log.info("%s expired pickups moved on", moved)
    if ctx.role != "hub":  # each library unlinks its own patrons' loans
        unlinked = history.unlink_due(ctx)
        if unlinked:
            log.info("returned loans of %s patrons unlinked (reading history off)", unlinked)
    return moved


class Maintenance(threading.Thread):
    def __init__(self, ctx, interval=900):
        super().__init__(name="thuvien-maintenance", daemon=True)
        self.ctx, self.interval = ctx, interval
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(self.interval):
            try:
                run_once(self.ctx)
            except Exception:  # logged; the next round tries again, loans go on meanwhile
                log.exception("maintenance round failed")

    def stop(self):
        self.stopped.set()
