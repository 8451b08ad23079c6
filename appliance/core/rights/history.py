"""Reading history: a patron's returned loans are theirs to keep or not.

- With the history off (the default), nobody sees their returned loans, staff
  included (`visible`), and the library's maintenance unlinks them from the card once
  the retention period has passed (`unlink_due`: `Library.history_days`, 30 days
  unless the library sets it), by `patron.history_erased` events.
- With it on, the patron may erase it from the OPAC account (patrons.erase_history).

A `patron.history_erased` event gives the loans returned up to its `before` to the
library's anonymous stand-in; the loans still count for the statistics. The latest
`before` per patron is kept (HistoryErasure) and looked at again whenever a return is
written (`recheck`), so a return that arrives after the erasure is unlinked too: the
same rows whatever order the two arrive in."""

import uuid
from datetime import datetime, timedelta

from .. import dialect, events
from ..clock import pack
from ..models import HistoryErasure, Library, Loan, Patron

DEFAULT_DAYS = 30
_NS = uuid.UUID("6f1c3b1e-9c1a-4c57-9d55-746875766965")  # the projector's


def anonymous(library, wall):
    """The library's stand-in for erased borrowers (made the same way everywhere)."""
    anon_id = str(uuid.uuid5(_NS, f"anonymous:{library}"))
    Patron.insert(id=anon_id, library=library, card=f"ANON-{anon_id[:8]}", name="—",
                  category="adult", created_at=wall, deleted=True,
                  field_hlc={}).on_conflict_ignore().execute()
    return anon_id


def limit_of(body):
    """The return clock up to which an erasure unlinks: `before_hlc` as a new event
    says it, or for an older event (its `before` to the second) the end of that second."""
    if isinstance(body.get("before_hlc"), int):
        return body["before_hlc"]
    seconds = datetime.fromisoformat(body["before"]).timestamp()
    return pack(int(seconds + 1) * 1000, 0) - 1


def history_erased(ev, body):
    patron_id, limit = body["patron_id"], limit_of(body)
    anon = anonymous(ev.library, ev.wall)
    held = HistoryErasure.get_or_none(HistoryErasure.patron == patron_id)
    if held is None:
        HistoryErasure.insert(patron=patron_id, before=body["before"], before_hlc=limit,
                              anonymous=anon).execute()
    elif held.before_hlc < limit:
        HistoryErasure.update(before=body["before"], before_hlc=limit).where(
            HistoryErasure.patron == patron_id).execute()
    Loan.update(patron=anon).where(
        (Loan.patron == patron_id) & Loan.returned_at.is_null(False)
        & (Loan.return_hlc <= limit)).execute()


# The loans of a copy returned within an erased history, unlinked when the return is
# written (one statement; nothing to do unless the patron erased a history).
_RECHECK = """UPDATE loan SET patron_id = (SELECT h.anonymous FROM history_erasure h
    WHERE h.patron = loan.patron_id)
    WHERE item_id IN ({}) AND returned_at IS NOT NULL AND EXISTS (
        SELECT 1 FROM history_erasure h WHERE h.patron = loan.patron_id
        AND loan.return_hlc <= h.before_hlc)"""


def recheck(item_ids):
    """After returns of these copies are written: unlink those an erasure covers."""
    ids = sorted(set(item_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        dialect.run(_RECHECK.format(", ".join("?" * len(chunk))), tuple(chunk))


def visible(patron):
    """Whether the patron's returned loans may be shown to anyone."""
    return bool(patron.keep_history)


def days(library):
    row = Library.get_or_none(Library.code == library)
    return row.history_days if row is not None and row.history_days else DEFAULT_DAYS


def save_days(ctx, value):
    """The library's retention period for returned loans of patrons who keep no history."""
    with events.writing(ctx):
        return _save_days(ctx, value)


def _save_days(ctx, value):
    from .. import authority, records
    from ..errors import N_, Invalid

    authority.require_own(ctx, ctx.library, "settings")
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise Invalid("bad_number", N_("%(field)s must be a whole number."), field="days")
    if not 1 <= value <= 3650:
        raise Invalid("bad_history_days", N_("Keep returned loans 1 to 3,650 days."))
    return records.save(ctx, "library.saved", Library, "code", ctx.library,
                        {"history_days": value}, library=ctx.library)


def unlink_due(ctx):
    """The maintenance job: for each patron of this library with the history off and
    loans returned longer ago than the retention period, a `patron.history_erased`
    event. Returns how many patrons."""
    cut = ctx.clock.effective_now() - timedelta(days=days(ctx.library))
    cutoff, cutoff_hlc = cut.isoformat(timespec="seconds"), pack(int(cut.timestamp() * 1000), 0)
    due = (Patron.select(Patron.id).join(Loan, on=Loan.patron == Patron.id).where(
        (Patron.library == ctx.library) & ~Patron.keep_history & ~Patron.deleted
        & Loan.returned_at.is_null(False) & (Loan.return_hlc <= cutoff_hlc)).distinct())
    ids = [p.id for p in due]
    with events.writing(ctx):
        for patron_id in ids:
            events.record(ctx, "patron.history_erased",
                          {"patron_id": patron_id, "before": cutoff,
                                                   "before_hlc": cutoff_hlc}, library=ctx.library)
    return len(ids)

