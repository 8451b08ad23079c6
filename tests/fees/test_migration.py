"""Schema 20 gives a library held at schema 19 its fees: the fee table, a copy's price
and the rules' two settings; rules saved before keep the defaults, and state still
equals a rebuild from the log."""

from appliance.core import circulation, db, policy, verify
from appliance.core.context import Context
from appliance.core.fees import commands
from appliance.core.models import LoanRule


def test_a_schema_19_library_upgrades_and_charges(ctx):
    data_dir = ctx.data_dir
    # The rules' columns stay: the rules here were saved by this version, whose events
    # carry the new settings, so a rule row without them would differ from a rebuild
    # (a real schema 19 library's rule events have none, and the rows the default).
    for statement in ("DROP TABLE fee", "ALTER TABLE item DROP COLUMN price",
                      "UPDATE setting SET value = '19' WHERE key = 'schema_version'"):
        ctx.db.execute_sql(statement)
    ctx.close()
    upgraded = Context.open(data_dir)
    try:
        assert db.schema_version(upgraded.db) == db.SCHEMA_VERSION >= 20
        old = policy.filled(LoanRule(library="X", category="*", item_type="*", loan_days=14,
                                     max_loans=3, max_renewals=1, fee_per_day=0))
        assert (old.replacement_fee, old.fee_limit) == (0, 0)  # a rule saved before
        policy.save_rule(upgraded, upgraded.library, "*", "*", loan_days=14, max_loans=3,
                         max_renewals=2, replacement_fee=70000)
        circulation.checkout(upgraded, "P0001", "1001")
        assert commands.declare(upgraded, "1001", "lost").amount == 70000
        assert verify.verify(upgraded) == []
    finally:
        upgraded.close()
