"""Housekeeping while the service runs: holds whose pickup day has passed move on down
the queue without anyone pressing a button, a hold asked of a library that can lend no
copy now, that declined it, or that has none on its shelf while another has one (the
hub's word) is asked of one that can (holds.reask), notices due are e-mailed (mail.py), the
download links of remote copies past their day are ended (core/requests), returned
loans of patrons who keep no reading history are unlinked from them after the
library's retention period, and the library's staff list is recorded when its accounts
changed (the town counts who is to be trained from it); at the hub, the reading
suggestions are built again once a day (core/suggest), for the next sync to ship."""

import logging
import threading

from . import mail
from .core import holds
from .core.requests import commands as requests
from .core.rights import history
from .core.suggest import build as suggestions
from .core.training import records as training

log = logging.getLogger(__name__)


def run_once(ctx):
    moved = holds.expire_pickups(ctx)
    if moved:
        log.info("%s expired pickups moved on", moved)
    try:
        sent = mail.run_round(ctx)
        if sent and any(sent.values()):
            log.info("notices: %s", sent)
    except Exception:  # the mail server's trouble never stops the holds' housekeeping
        log.exception("notices round failed")
    expired = requests.expire_due(ctx)
    if expired:
        log.info("%s download links of remote copies ended", expired)
    if ctx.role != "hub":  # each library asks again for its own holds, unlinks its own
        reasked = holds.reask(ctx)  # patrons' loans
        if reasked:
            log.info("%s holds asked of another library again", reasked)
        unlinked = history.unlink_due(ctx)
        if unlinked:
            log.info("returned loans of %s patrons unlinked (reading history off)", unlinked)
    if training.list_staff(ctx):  # an account added, disabled or given another role
        log.info("staff list recorded for the training indicator")
    return moved


def suggestions_if_due(ctx):
    """At the hub, once a day: in the loop, not at start, so a large town's build never
    holds up the service coming up."""
    if ctx.role == "hub" and suggestions.due():
        return suggestions.build(ctx)
    return None


class Maintenance(threading.Thread):
    def __init__(self, ctx, interval=900):
        super().__init__(name="thuvien-maintenance", daemon=True)
        self.ctx, self.interval = ctx, interval
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(self.interval):
            try:
                run_once(self.ctx)
                suggestions_if_due(self.ctx)
            except Exception:  # logged; the next round tries again, loans go on meanwhile
                log.exception("maintenance round failed")

    def stop(self):
        self.stopped.set()
