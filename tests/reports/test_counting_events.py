"""The counting events at the hub's authority check: a device counts only at its own
library (whoever's card it is), and a hand count is the latest word on its day, whatever
order its events arrive in."""

import pytest

from appliance.core import authority, events
from appliance.core.models import VisitTally
from tests.core.test_authority import A, B, ev, lookup

CASES = [
    (ev("visit.recorded", A, library=A, day="2026-05-05", patron_id="pb"), None),
    (ev("visit.recorded", B, library=B, day="2026-05-05", patron_id="pa"), "other_library"),
    (ev("visit.recorded", B, library=A, day="2026-05-05", patron_id="pa"), "library_mismatch"),
    (ev("visit.counted", A, library=A, day="2026-05-05", count=3), None),
    (ev("visit.counted", B, library=B, day="2026-05-05", count=3), "other_library"),
    (ev("item.used", A, library=A, day="2026-05-05", item_id="ia", use_id="u"), None),
    (ev("item.used", B, library=B, day="2026-05-05", item_id="ib", use_id="u"),
     "other_library"),
]


@pytest.mark.parametrize("event,code", CASES)
def test_a_device_counts_only_at_its_own_library(event, code):
    reason = authority.check(event, A, lookup)
    assert (reason.code if reason else None) == code


def test_a_hand_count_is_the_latest_word_in_any_order(ctx, tmp_path):
    from appliance.core.reports import counting
    from tests.factories import make_library

    day = ctx.clock.today().isoformat()
    counting.count_visitors(ctx, day, 12)
    counting.count_visitors(ctx, day, 8)
    made = [events.to_dict(e) for e in events.since(ctx.origin, 0, 10**6)]
    other = make_library(tmp_path / "other")
    try:
        counted = [d for d in made if d["kind"] == "visit.counted"]
        rest = [d for d in made if d["kind"] != "visit.counted"]
        events.ingest(other, rest + counted[::-1], relayed=True)  # the correction first
        assert VisitTally.get_by_id(f"{ctx.library}|{day}").count == 8
    finally:
        other.close()


def test_a_database_older_than_the_counting_tables_is_migrated(tmp_path):
    """Step 8 replays the log into every state table, the counting ones included, which
    a database of schema 7 does not have yet."""
    import sqlite3

    from appliance.core import db as dbmod
    from appliance.core.context import Context
    from tests.factories import make_library

    make_library(tmp_path / "lib").close()
    con = sqlite3.connect(tmp_path / "lib" / "thuvien.db")
    for table in ("visit", "visit_tally", "in_library_use"):
        con.execute(f"DROP TABLE {table}")
    con.execute("DROP INDEX event_loan_renew")
    con.execute("UPDATE setting SET value = '7' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    ctx = Context.open(tmp_path / "lib")
    try:
        assert dbmod.schema_version(ctx.db) == dbmod.SCHEMA_VERSION
        assert {"visit", "visit_tally", "in_library_use"} <= set(ctx.db.get_tables())
        assert "event_loan_renew" in {i.name for i in ctx.db.get_indexes("event")}
    finally:
        ctx.close()
