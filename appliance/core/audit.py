"""Every staff look at a patron's personal data is logged (the personal data law).

A look is an `audit.viewed` event: it joins the device's chain, syncs to the hub like
any event (append-only: an event is never edited or dropped, and its hash chain shows
it), and the projector keeps it as an AuditEntry row, where a hub admin reads who
looked at whom (`entries`). `target` is the patron's id when one patron was seen, or
the list's name ("patrons.search", "overdue", ...) with the ids seen in `detail`."""

import json
from datetime import datetime, timezone

from . import events
from .models import AuditEntry, AuditLog


def log(ctx, username, action, target, detail=None):
    """Record that `username` saw `target` (a patron id, or a list's name)."""
    if isinstance(detail, (list, tuple, set)):
        detail = json.dumps(sorted(str(d) for d in detail))
    events.record(ctx, "audit.viewed", {
        "username": username or "-", "action": action, "patron": str(target)[:64],
        "detail": detail, "at": ctx.clock.iso_now(), "library": ctx.library})


def seen(ctx, username, action, patrons):
    """A list of patrons shown: one entry per patron seen (so a search by patron finds
    the list they were on), none when the list is empty."""
    ids = sorted({p.id if hasattr(p, "id") else str(p) for p in patrons})
    if not ids:
        return
    with events.writing(ctx):
        for patron_id in ids:
            log(ctx, username, action, patron_id)


def viewed(ev, body):
    AuditEntry.insert(id=ev.id, library=body.get("library") or ev.library,
                      at=body.get("at") or ev.wall, username=body.get("username") or "-",
                      action=body.get("action") or "", patron=body.get("patron") or "",
                      detail=body.get("detail")).on_conflict_ignore().execute()


def entries(username=None, patron=None, library=None, limit=200):
    """The latest looks, newest first, filtered by staff account, patron, library."""
    query = AuditEntry.select()
    if username:
        query = query.where(AuditEntry.username == username)
    if patron:
        query = query.where(AuditEntry.patron == patron)
    if library:
        query = query.where(AuditEntry.library == library)
    return list(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))


def recent(limit=100):
    return entries(limit=limit)


def log_local(username, action, target, detail=None):
    """A staff action on this device that is no look at a patron (a class list imported,
    a restricted document read): kept here, never synced (a restricted document's title
    never leaves its library)."""
    AuditLog.create(at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    username=username or "-", action=action, target=str(target)[:64],
                    detail=detail)


def local_recent(limit=100):
    return list(AuditLog.select().order_by(AuditLog.id.desc()).limit(limit))
