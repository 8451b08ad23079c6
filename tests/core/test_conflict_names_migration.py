"""Conflicts staff resolved before schema 8 stay resolved after the upgrade.

Before schema 8 a conflict was named by the event that made it on the node at hand; the
rebuild of schema 8 names conflicts of two loans, of returns and renewals of one loan
and of edits by what they are about, and a resolution in the log still names the old
id. The database here is made as schema 7 had it: conflicts under their old names,
resolved by events that name them so."""

import uuid
from datetime import timedelta

from appliance.core import circulation, datadir, db, events, patrons, verify
from appliance.core.context import Context
from appliance.core.models import Conflict, Event, Item, Loan
from appliance.core.projector import _NS
from tests.sync.syncsupport import hub_db_fixture  # noqa: F401  (the hub_db fixture)


def _own_events(site):
    return [events.to_dict(e) for e in Event.select().where(Event.origin == site.origin)
            .order_by(Event.seq)]


def _old_name(conflict):
    """The id schema 7 gave it: the event that made it, its kind, an edit's field."""
    field = conflict.details.get("field", "") if conflict.kind == "edit_conflict" else ""
    return str(uuid.uuid5(_NS, f"{conflict.event}:{conflict.kind}:{field}"))


def _renew(ctx, barcode):
    """A renewal that moves the due date (one that would not is refused): the loan is
    made due yesterday first."""
    yesterday = (ctx.clock.today() - timedelta(days=1)).isoformat()
    loan = Loan.get((Loan.item == Item.get(Item.barcode == barcode).id)
                    & Loan.returned_at.is_null())
    Loan.update(due_date=yesterday).where(Loan.id == loan.id).execute()
    circulation.renew(ctx, barcode)


def _conflicts_of_every_kind(branch, hub_dir):
    """At the hub: a copy lent at both, a loan returned at both, renewals past the limit
    across the two, a card's phone edited at both."""
    circulation.checkout(branch, "P0001", "1002")
    circulation.checkout(branch, "P0002", "1003")
    sent = _own_events(branch)  # models talk to the database opened last
    branch.close()
    hub = Context.open(hub_dir)
    events.ingest(hub, sent)
    circulation.checkin(hub, "1002")
    _renew(hub, "1003")
    circulation.checkout(hub, "P0002", "1001")
    patrons.save(hub, {"id": patrons.find(hub, "P0001").id, "phone": "0905111222"})
    hub.close()
    branch = Context.open(branch.data_dir)
    circulation.checkout(branch, "P0001", "1001")  # later than the hub's: it stands
    circulation.checkin(branch, "1002")
    _renew(branch, "1003")
    _renew(branch, "1003")
    patrons.save(branch, {"id": patrons.find(branch, "P0001").id, "phone": "0905333444"})
    sent = _own_events(branch)
    branch.close()
    hub = Context.open(hub_dir)
    events.ingest(hub, sent)
    return hub


def _as_schema_7(hub):
    """Conflicts renamed as schema 7 named them, each resolved by an event naming that
    old id; then the columns and tables of schemas 8 and 11 taken away."""
    names = {}
    for conflict in Conflict.select():
        old = _old_name(conflict)
        Conflict.update(id=old).where(Conflict.id == conflict.id).execute()
        names[old] = conflict.kind
    for old in sorted(names):
        events.record(hub, "conflict.resolved", {"conflict_id": old,
                                                 "resolution": f"đã xử lý {names[old]}"})
    for statement in ("ALTER TABLE item DROP COLUMN condition",
                      "ALTER TABLE item DROP COLUMN transit_hlc",
                      "ALTER TABLE loan DROP COLUMN return_hlc",
                      "DROP TABLE field_edit", "DROP TABLE stamp",
                      "UPDATE setting SET value = '7' WHERE key = 'schema_version'"):
        hub.db.execute_sql(statement)
    return names


def test_conflicts_resolved_before_the_upgrade_stay_resolved(tmp_path, ctx, hub_db):
    history = _own_events(ctx)
    ctx.close()
    hub = datadir.init(tmp_path / "hub", ctx.library, "Thư viện thị xã", role="hub",
                       database=hub_db)
    events.ingest(hub, history)
    hub.close()
    hub = _conflicts_of_every_kind(Context.open(ctx.data_dir), tmp_path / "hub")
    kinds = sorted(c.kind for c in Conflict.select())
    assert kinds == ["edit_conflict", "loaned_twice", "renewal_past_limit",
                     "returned_not_on_loan"]
    names = _as_schema_7(hub)
    assert all(c.status == "resolved" for c in Conflict.select())
    hub.close()

    hub = Context.open(tmp_path / "hub")  # the upgrade: state rebuilt from the log
    assert db.schema_version(hub.db) == db.SCHEMA_VERSION
    after = {c.kind: c for c in Conflict.select()}
    assert sorted(after) == kinds
    assert not set(c.id for c in after.values()) & set(names), "named anew"
    assert {kind: (c.status, c.resolution) for kind, c in after.items()} == {
        kind: ("resolved", f"đã xử lý {kind}") for kind in kinds}
    assert verify.verify(hub) == []
    hub.close()
