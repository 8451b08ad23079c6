"""Schema 33 gives each payment and waiver of a fee a row of its own (fee_payment). A
library at schema 32 kept a fee's settlement on the fee's row only (paid or waived,
whole): upgraded, each fee has the same state, and the payment or waiver its log holds
is a row of its fee, with what was paid and the balance reckoned from them. Rows an
earlier build kept in the fee table as a fee's parts are gone from it."""

from appliance.core import circulation, db, events, policy, verify
from appliance.core.context import Context
from appliance.core.fees import balance, commands, statement
from appliance.core.models import Fee, FeePayment
from tests.catalogue.backends import town_fixtures


def _settled(ctx):
    """Four fees: one paid whole, one waived, one paid whole by one desk and waived by
    another that had not heard of it (the earlier stands), one still open."""
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     replacement_fee=50000)
    for card, barcode in (("P0001", "1001"), ("P0001", "1002"), ("P0002", "1003"),
                          ("P0002", "1004")):
        circulation.checkout(ctx, card, barcode)
    paid, waived, twice, open_ = (commands.declare(ctx, barcode, "lost")
                                  for barcode in ("1001", "1002", "1003", "1004"))
    commands.pay(ctx, paid.id, actor="thuthu")
    commands.waive(ctx, waived.id, "tìm thấy", actor="thuthu")
    commands.pay(ctx, twice.id, actor="thuthu")
    # the other desk's waiver, as sync brings it: it names the whole fee too
    events.record(ctx, "fee.waived", {"fee_id": twice.id, "library": ctx.library,
                                      "patron_id": twice.patron, "amount": twice.amount,
                                      "at": ctx.clock.iso_now(), "actor": "khac",
                                      "reason": "muộn"}, library=ctx.library)
    return paid, waived, twice, open_


def _as_schema_32(ctx):
    """The fee table as schema 32 left it: settlements on the fees' rows, no
    fee_payment."""
    ctx.db.execute_sql("DROP TABLE fee_payment")
    ctx.db.execute_sql("UPDATE setting SET value = '32' WHERE key = 'schema_version'")


def _states():
    return {f.id: (f.state, f.settled_event, f.settled_by, f.reason) for f in Fee.select()}


def _as_before(ctx, settled, before):
    """The upgraded library's fees: their states as before, each settlement a row."""
    paid, waived, twice, open_ = settled
    assert db.schema_version(ctx.db) == db.SCHEMA_VERSION >= 33
    assert _states() == before
    rows = {(p.fee_id, p.kind, p.amount, p.actor) for p in FeePayment.select()}
    assert rows == {(paid.id, "payment", 50000, "thuthu"),
                    (waived.id, "waiver", 50000, "thuthu"),
                    (twice.id, "payment", 50000, "thuthu"),
                    (twice.id, "waiver", 50000, "khac")}
    lines = {line.fee.id: (line.paid, line.waived, line.balance)
             for line in statement.lines(ctx, list(Fee.select()))}
    assert lines == {paid.id: (50000, 0, 0), waived.id: (0, 50000, 0),
                     twice.id: (50000, 50000, 0), open_.id: (0, 0, 50000)}
    assert balance.owed(open_.patron) == (50000, 1)
    commands.pay(ctx, open_.id, amount=20000)  # parts are taken as before
    assert balance.owed(open_.patron) == (30000, 1)
    assert verify.verify(ctx) == []


def test_a_schema_32_library_keeps_its_fees_settled_as_they_were(ctx):
    settled = _settled(ctx)
    before = _states()
    assert before[settled[2].id][0::2] == ("paid", "thuthu")  # the payment came first
    _as_schema_32(ctx)
    data_dir = ctx.data_dir
    ctx.close()
    upgraded = Context.open(data_dir)
    try:
        _as_before(upgraded, settled, before)
    finally:
        upgraded.close()


hub, _, _, _ = town_fixtures(lambda ctx: None)


def test_a_schema_32_hub_keeps_its_fees_settled_as_they_were(hub):
    """The same on the hub's database, SQLite and PostgreSQL."""
    settled = _settled(hub)
    before = _states()
    _as_schema_32(hub)
    db.migrate(hub.db)
    _as_before(hub, settled, before)
