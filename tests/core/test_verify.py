"""`thuvien verify`: state must equal a rebuild of the log in the order it was applied here
and in (hlc, origin, seq) order; it says which, and where, when it does not."""

import subprocess
import sys
import time

from appliance.core import circulation, datadir, db, events, verify
from appliance.core.context import Context
from appliance.core.models import Conflict, Event, Item, Loan
from tests.factories import LIB, seed
from tests.sync.syncsupport import hub_db_fixture  # noqa: F401  (the hub_db fixture)


def thuvien(*args):
    return subprocess.run([sys.executable, "-m", "appliance.cli", *args], capture_output=True,
                          text=True, timeout=120)


def test_verify_names_state_changed_behind_the_logs_back(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    assert thuvien("verify", "--data", str(ctx.data_dir)).returncode == 0
    # a copy marked lost by hand in the database, not through a command
    Item.update(condition="lost", status="lost").where(Item.barcode == "1002").execute()
    ctx.close()
    r = thuvien("verify", "--data", str(ctx.data_dir))
    assert r.returncode == 1
    faults = [line for line in r.stdout.splitlines() if line.startswith("FAULT")]
    assert faults and all(line.startswith("FAULT Item: ") for line in faults)
    assert any("differs from a rebuild of the event log in the order it was applied here"
               in line for line in faults)
    assert "Traceback" not in r.stderr
    ctx = Context.open(ctx.data_dir)
    verify.rebuild(ctx)
    assert verify.verify(ctx) == []
    assert Item.get(Item.barcode == "1002").status == "available"


def test_verify_says_when_another_order_of_the_same_events_gives_other_state(tmp_path, ctx):
    """Two desks of one library lend one copy without seeing each other, and the second
    loan is returned before the first reaches it. Which loan stands, and whether there
    is a conflict, then depends on arrival (the one case left: docs/sync.md); verify's
    rebuild in clock order is what shows it."""
    history = [events.to_dict(e) for e in Event.select().order_by(Event.pos)]
    ctx.close()
    other = datadir.init(tmp_path / "other", ctx.library, "Bàn thứ hai")
    events.ingest(other, history)
    other.close()
    branch = Context.open(ctx.data_dir)
    first = circulation.checkout(branch, "P0001", "1001")
    lent_here = [events.to_dict(e) for e in Event.select().where(Event.origin == branch.origin)
                 .order_by(Event.seq)][-1:]
    branch.close()
    time.sleep(0.01)  # the other desk's loan comes later, by any clock
    other = Context.open(tmp_path / "other")
    circulation.checkout(other, "P0002", "1001")
    circulation.checkin(other, "1001")
    events.ingest(other, lent_here)  # the first loan arrives after the second ended
    assert Loan.get_by_id(first["loan_id"]).returned_at is None
    assert not Conflict.select().where(Conflict.kind == "loaned_twice").exists()
    faults = verify.verify(other)
    assert faults and all("(hlc, origin, seq) order" in fault for fault in faults)
    assert {fault.split(":")[0] for fault in faults} >= {"Loan", "Conflict"}
    other.close()


def test_a_copy_marked_lost_before_schema_8_keeps_its_mark(tmp_path, hub_db):
    """Before schema 8 staff's mark was the copy's status itself, and its edit said
    `status`; the migration makes it the copy's condition, and state still equals a
    rebuild of the old log (on SQLite and the hub's PostgreSQL)."""
    ctx = datadir.init(tmp_path / "lib", LIB, "Thư viện", role="hub", database=hub_db)
    seed(ctx)
    circulation.checkout(ctx, "P0001", "1001")
    lost = Item.get(Item.barcode == "1002")
    events.record(ctx, "item.saved", {"id": lost.id, "fields": {"status": "lost"},
                                      "at": ctx.clock.iso_now(),
                                      "base": {"status": lost.field_hlc["condition"]}})
    for statement in (  # the database as schema 6 had it
            "ALTER TABLE item DROP COLUMN condition", "ALTER TABLE item DROP COLUMN transit_hlc",
            "DROP TABLE field_edit", "DROP TABLE stamp",
            """UPDATE item SET field_hlc = REPLACE(field_hlc, '"condition":', '"status":')""",
            "UPDATE setting SET value = '6' WHERE key = 'schema_version'"):
        ctx.db.execute_sql(statement)
    ctx.close()
    ctx = Context.open(tmp_path / "lib")
    assert db.schema_version(ctx.db) == db.SCHEMA_VERSION
    copies = {i.barcode: (i.condition, i.status) for i in Item.select()}
    assert copies["1001"] == ("available", "on_loan")
    assert copies["1002"] == ("lost", "lost")
    assert copies["1003"] == ("available", "available")
    assert verify.verify(ctx) == []
    ctx.close()
