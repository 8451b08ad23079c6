"""`thuvien verify`: state must equal a rebuild of the log in the order it was applied here
and in (hlc, origin, seq) order; it says which, and where, when it does not."""

import subprocess
import sys
import time

from appliance.core import circulation, datadir, db, events, verify
from appliance.core.context import Context
from appliance.core.models import Conflict, Event, Item, Loan
from tests.factories import LIB, loans_fall_due_today, seed
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


def _interleavings(first, second):
    """Every order of two desks' events that keeps each desk's own order."""
    if not first or not second:
        yield first + second
        return
    for rest in _interleavings(first[1:], second):
        yield [first[0], *rest]
    for rest in _interleavings(first, second[1:]):
        yield [second[0], *rest]


def test_two_desks_of_one_library_lending_one_copy_agree_in_every_order(tmp_path, ctx):
    """Two desks of one library lend one copy without seeing each other: the first desk
    lends it, renews and takes it back late; meanwhile the second lends it, takes it back
    and lends it again. Every order of their events, one by one or in a batch, gives the
    same rows: the first loan ended when the second began (a conflict), the second loan
    and the third follow each other (no conflict), and rebuilds in both orders agree."""
    history = [events.to_dict(e) for e in Event.select().order_by(Event.pos)]
    ctx.close()
    other = datadir.init(tmp_path / "other", ctx.library, "Bàn thứ hai")
    events.ingest(other, history)
    other.close()

    def made(site, action):
        action(site)
        return [events.to_dict(e) for e in Event.select().where(
            Event.origin == site.origin).order_by(Event.seq) if e.seq > seen[site.origin]]

    first_desk = Context.open(ctx.data_dir)
    seen = {first_desk.origin: events.head(first_desk.origin)[0]}
    first = circulation.checkout(first_desk, "P0001", "1001")
    loans_fall_due_today(first_desk, "1001")  # so the renewal moves the date
    circulation.renew(first_desk, "1001")
    first_desk.close()
    time.sleep(0.01)  # the second desk lends later, by any clock
    second_desk = Context.open(tmp_path / "other")
    seen[second_desk.origin] = 0  # its own setting up too: the nodes have not seen it
    second = made(second_desk, lambda site: (circulation.checkout(site, "P0002", "1001"),
                                             circulation.checkin(site, "1001"),
                                             time.sleep(0.01),
                                             circulation.checkout(site, "C0001", "1001")))
    second_desk.close()
    time.sleep(0.01)
    first_desk = Context.open(ctx.data_dir)
    first_events = made(first_desk, lambda site: circulation.checkin(site, "1001"))
    first_desk.close()
    lent = [d["body"] for d in second if d["kind"] == "loan.out"]
    loans = [body["loan_id"] for body in lent]

    orders = list(_interleavings(first_events, second))
    digests = set()
    for n, order in enumerate(orders[::3] + [orders[-1]]):
        node = datadir.init(tmp_path / f"node{n}", ctx.library, "Nút")
        events.ingest(node, history)
        if n % 2:
            events.ingest(node, order)  # the hub's set-wise path, in one batch
        else:
            for d in order:
                events.ingest(node, [d])
        assert verify.verify(node) == []
        ended = Loan.get_by_id(first["loan_id"])
        assert (ended.returned_at, ended.renewals) == (lent[0]["at"], 1)
        assert Loan.get_by_id(loans[0]).returned_at is not None
        assert Loan.get_by_id(loans[1]).returned_at is None
        pairs = [c.details["loans"] for c in Conflict.select().where(
            Conflict.kind == "loaned_twice")]
        assert pairs == [sorted([first["loan_id"], loans[0]])]
        assert not Conflict.select().where(Conflict.kind == "returned_not_on_loan").exists()
        assert Item.get(Item.barcode == "1001").status == "on_loan"
        snap = verify.snapshot()  # each node's own setting up aside
        digests.add(verify.digest({t: snap[t] for t in ("Loan", "Conflict", "Item", "Hold")}))
        node.close()
    assert len(digests) == 1


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
