"""The e-mail queue (models.NoticeMail): one row per notice, for ever, keyed by the
notice (kind|patron|loan or hold|date), so a notice is queued once however often the
due notices are worked out.

Never twice: a sender claims a row by writing "sending" (committed) before it says a
word to the mail server, and writes "sent" after the server took it. A sender that
stops between the two leaves the row "sending": nobody picks it up again, and once it
has been so for longer than any sender could take (STALE) it is called "unsure" for
staff to look at. Whether it went is then unknown, and it is not sent again unless a
librarian says so (`release`). Failures the server answers (a refusal, "try later")
are not in doubt: "try later" and no link at all go back to the queue with a growing
wait; a refusal is "failed", with the server's words.

The queue is local and never synced: each library sends its own notices, and the
addresses in it are of its own patrons (another library's patron has no address here,
core/privacy.py)."""

import time
from collections.abc import Iterable
from typing import cast

import peewee as pw

from ..models import NoticeMail
from . import due, routing, texts

STATES = ("queued", "sending", "sent", "failed", "unsure", "dropped")
STALE = 600  # seconds: longer than a sender's whole conversation with the server
MAX_TRIES = 8  # answers "try later" before the notice is called failed
FIRST_WAIT, LONGEST_WAIT = 60, 3600
FORGET_DAYS = 30  # addresses and words kept after a notice went, for staff to check


def wait_after(attempts):
    return min(LONGEST_WAIT, FIRST_WAIT * 2 ** max(0, attempts - 1))


def queue_due(ctx, library_name, now=None, today=None):
    """Queue an e-mail for each notice due here that may go by e-mail; returns how many
    were new. Only this library's own patrons: no other address is held here."""
    now = time.time() if now is None else now
    today = today or ctx.clock.today()
    lang = texts.language()
    fresh = []
    for notice in due.now_due(ctx, today) + due.copies_ready(ctx, today):
        if notice.patron.library != ctx.library:
            continue
        route = routing.route(notice.patron, today)
        if route.address:
            fresh.append((notice, route))
    if not fresh:
        return 0
    held = {r.key for r in NoticeMail.select(NoticeMail.key).where(
        NoticeMail.key << [n.key for n, _ in fresh])}
    added = 0
    for notice, route in fresh:
        if notice.key in held:
            continue
        subject, body = texts.render(notice.kind, texts.values_of(
            notice, route, library_name, today), notice.lang or lang)
        # (another sender may have queued it since: the key decides, the row stays one)
        NoticeMail.insert(
            key=notice.key, kind=notice.kind, patron=notice.patron.id, ref=notice.ref,
            recipient=route.address, subject=subject, body=body, queued_at=now,
            next_try=now).on_conflict_ignore().execute()
        added += 1
    return added


def claim(now=None):
    """The next row to send, marked "sending" (and committed) first; None when none is
    due. Two senders never claim the same row: the update names the state it found."""
    now = time.time() if now is None else now
    db = NoticeMail._meta.database
    if db.in_transaction():
        raise RuntimeError("claim outside a transaction: 'sending' must be committed first")
    for row in (NoticeMail.select().where((NoticeMail.state == "queued")
                                          & (NoticeMail.next_try <= now))
                .order_by(NoticeMail.next_try, NoticeMail.queued_at).limit(5)):
        taken = NoticeMail.update(state="sending", claimed_at=now,
                                  attempts=NoticeMail.attempts + 1).where(
            (NoticeMail.key == row.key) & (NoticeMail.state == "queued")).execute()
        if taken == 1:
            return NoticeMail.get_by_id(row.key)
    return None


def _set(row, **values):
    NoticeMail.update(**values).where(NoticeMail.key == row.key).execute()


def sent(row, now=None):
    _set(row, state="sent", done_at=time.time() if now is None else now, error=None)


def later(row, error, now=None, counted=True):
    """Not sent (the server said try later; or, not `counted`, no link or no login):
    back in the queue. Only the notice's own trouble counts towards failing it: a link
    down or a wrong password waits for as long as it takes."""
    now = time.time() if now is None else now
    if counted and row.attempts >= MAX_TRIES:
        return failed(row, error, now)
    _set(row, state="queued", next_try=now + wait_after(row.attempts), error=error)


def failed(row, error, now=None):
    _set(row, state="failed", error=error, done_at=time.time() if now is None else now)


def unsure(row, error, now=None):
    _set(row, state="unsure", error=error, done_at=time.time() if now is None else now)


def dropped(row, now=None):
    _set(row, state="dropped", done_at=time.time() if now is None else now)


def still_due(row, today):
    _kind, _patron, ref, day = row.key.split("|", 3)
    return due.is_still_due(row.kind, ref, day, today)


def settle_stale(now=None):
    """Rows left "sending" by a sender that stopped: "unsure", never sent again by
    themselves."""
    now = time.time() if now is None else now
    return NoticeMail.update(
        state="unsure", done_at=now,
        error="interrupted: the sender stopped while sending; it may have gone").where(
        (NoticeMail.state == "sending") & (NoticeMail.claimed_at < now - STALE)).execute()


def release(key):
    """Staff send a failed or unsure notice again: their word, not the sender's."""
    return NoticeMail.update(state="queued", next_try=0, error=None).where(
        (NoticeMail.key == key) & (NoticeMail.state << ("failed", "unsure"))).execute()


def forget(now=None, days=FORGET_DAYS):
    """Addresses and words of notices done long ago are cleared; the key stays, so the
    notice is still never sent again."""
    now = time.time() if now is None else now
    return NoticeMail.update(recipient="", body="").where(
        (NoticeMail.state << ("sent", "failed", "dropped", "unsure"))
        & (NoticeMail.done_at < now - days * 86400) & (NoticeMail.recipient != "")).execute()


def forget_patron(patron_id):
    """A patron erased: their queued and past e-mails go (keys included)."""
    return NoticeMail.delete().where(NoticeMail.patron == patron_id).execute()


def recent(limit=200):
    return list(NoticeMail.select().order_by(NoticeMail.queued_at.desc(),
                                              NoticeMail.key).limit(limit))


def counts():
    out = dict.fromkeys(STATES, 0)
    query = NoticeMail.select(NoticeMail.state, pw.fn.COUNT(NoticeMail.key)).group_by(
        NoticeMail.state)
    # .tuples() yields tuples; peewee's type stubs say model instances
    out.update(cast("Iterable[tuple[str, int]]", query.tuples()))
    return out
