"""Schema 14 gives a library held at schema 13 its pupils' columns, and the patrons it
holds keep everything; state still equals a rebuild from the log."""

from appliance.core import db, patrons, verify
from appliance.core.context import Context
from appliance.core.roster import importing
from tests.roster import classlists as CL


def test_a_schema_13_library_upgrades(ctx):
    data_dir = ctx.data_dir
    for statement in ("ALTER TABLE patron DROP COLUMN school_class",
                      "ALTER TABLE patron DROP COLUMN birth_date",
                      "ALTER TABLE library DROP COLUMN school_year_end",
                      "ALTER TABLE library DROP COLUMN child_age",
                      "ALTER TABLE library DROP COLUMN school_year_begun",
                      "UPDATE setting SET value = '13' WHERE key = 'schema_version'"):
        ctx.db.execute_sql(statement)
    ctx.close()
    upgraded = Context.open(data_dir)
    try:
        assert db.schema_version(upgraded.db) == db.SCHEMA_VERSION >= 14
        assert patrons.find(upgraded, "C0001").guardian == "Phạm Văn Đức"
        report = importing.run(upgraded, CL.xlsx(CL.pupils(2)), consent=True)
        assert [r.fields["school_class"] for r in report.imported] == ["6A", "6A"]
        assert verify.verify(upgraded) == []
    finally:
        upgraded.close()
