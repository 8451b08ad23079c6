"""Figures for the desk: today's counts, overdue loans."""

import time
from datetime import timedelta

from .models import Item, Loan, Patron

# A library's copies and cards are counted whole (an index-only count: 5 ms with
# 50,000 copies) at most once a minute per process, not at every opening of the desk's
# home (after each patron): they move by a copy catalogued or a card made, which the
# page need not show to the second. Today's figures are counted each time.
COLLECTION_SECONDS = 60
_collections: dict[tuple[str, str], tuple[float, dict]] = {}


def today_counts(ctx):
    day = ctx.clock.today()
    today, lib = day.isoformat(), ctx.library
    # Through the loans' index by library and return (times are the library's, in ISO, so
    # a day is a range of them), never all the library's loans: after a year, 60,000 of
    # them took 150 ms at every opening of the desk. A loan made today is still out or
    # returned since; a day's leeway keeps one whose return another desk's clock put
    # before it.
    since = (day - timedelta(days=1)).isoformat()
    returned_today = (Loan.returned_at >= today) & (
        Loan.returned_at < (day + timedelta(days=1)).isoformat())
    made_today = (Loan.library == lib) & Loan.out_at.startswith(today)
    return {
        "loans": Loan.select().where(made_today & Loan.returned_at.is_null()).count()
        + Loan.select().where(made_today & (Loan.returned_at >= since)).count(),
        "returns": Loan.select().where((Loan.library == lib) & returned_today).count(),
        "on_loan": Loan.select().where((Loan.library == lib) & Loan.returned_at.is_null())
        .count(),
        "overdue": overdue_query(ctx).count(),
        **collection(ctx),
    }


def collection(ctx, now=None):
    """{"patrons", "copies"} of the library, counted at most COLLECTION_SECONDS ago."""
    now = time.monotonic() if now is None else now
    key = (ctx.db.database, ctx.library)  # (a practice copy is a database of its own)
    kept = _collections.get(key)
    if kept is None or now - kept[0] >= COLLECTION_SECONDS:
        lib = ctx.library
        kept = now, {
            "patrons": Patron.select().where((Patron.library == lib) & ~Patron.deleted)
            .count(),
            "copies": Item.select().where(Item.library == lib).count()}
        _collections[key] = kept
    return kept[1]


def overdue_query(ctx):
    return (Loan.select().where((Loan.library == ctx.library) & Loan.returned_at.is_null()
                                & (Loan.due_date < ctx.clock.today().isoformat()))
            .order_by(Loan.due_date))
