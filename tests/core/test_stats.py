"""The desk's figures for today, counted through the loans' index; the library's copies
and cards counted whole at most once a minute."""

import time
from datetime import timedelta

from appliance.core import catalogue, circulation, stats
from appliance.core.models import Item, Loan
from tests.query_plans import bad_steps, statements_of


def _made_yesterday(ctx, barcode):
    """The copy's loan as if made yesterday (state only: these tests read no log)."""
    yesterday = (ctx.clock.today() - timedelta(days=1)).isoformat()
    copy = Item.get((Item.barcode == barcode) & (Item.library == ctx.library))
    Loan.update(out_at=yesterday + "T16:00:00+07:00").where(Loan.item == copy.id).execute()


def test_todays_figures_count_what_the_desk_did_today(ctx):
    for card, barcode in (("P0001", "1001"), ("P0001", "1002"), ("P0002", "1003"),
                          ("P0002", "1004")):
        circulation.checkout(ctx, card, barcode)
    _made_yesterday(ctx, "1001")  # and returned today
    _made_yesterday(ctx, "1004")  # and still out
    circulation.checkin(ctx, "1001")
    circulation.checkin(ctx, "1002")  # made and returned today; 1003 made today, out
    counts = stats.today_counts(ctx)
    assert (counts["loans"], counts["returns"], counts["on_loan"]) == (2, 2, 2)
    assert (counts["copies"], counts["patrons"]) == (5, 4)


def test_todays_figures_never_read_all_the_librarys_loans(ctx):
    statements = statements_of(ctx, lambda: stats.today_counts(ctx))
    on_loans = [sql for sql in statements if '"loan"' in sql]
    assert len(on_loans) >= 4
    assert not bad_steps(ctx, on_loans)


def test_the_collection_is_counted_at_most_once_a_minute(ctx):
    assert stats.today_counts(ctx)["copies"] == 5
    catalogue.save_item(ctx, {"bib": ctx.bibs[0].id, "barcode": "1006"})
    statements = statements_of(ctx, lambda: stats.today_counts(ctx))
    assert not [sql for sql in statements if '"item"' in sql or '"patron"' in sql]
    assert stats.today_counts(ctx)["copies"] == 5, "as counted less than a minute ago"
    later = time.monotonic() + stats.COLLECTION_SECONDS
    assert stats.collection(ctx, now=later) == {"copies": 6, "patrons": 4}
    assert stats.today_counts(ctx)["copies"] == 6
