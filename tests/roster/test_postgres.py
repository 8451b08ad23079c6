"""The town library imports a class list and begins the school year at the hub, on
PostgreSQL: the card sequence, the checks and the batch work there too."""

import pytest

from appliance.core import datadir, verify
from appliance.core.roster import importing, schoolyear
from tests.factories import seed
from tests.roster import classlists as CL
from tests.sync.syncsupport import hub_database

pytestmark = pytest.mark.postgres


def test_class_list_and_school_year_on_postgresql(tmp_path):
    with hub_database("postgresql") as url:
        ctx = datadir.init(tmp_path / "hub", "PY-TV00", "Thư viện thị xã", role="hub",
                           database=url)
        try:
            seed(ctx)
            rows = CL.pupils(40, "9A") + [[41, "", "01/01/2013", "9A", "", "Cha", ""]]
            report = importing.run(ctx, CL.xlsx(rows), consent=True)
            assert len(report.imported) == 40 and [r.line for r in report.refused] == [44]
            assert [int(r.card[5:13]) for r in report.imported] == list(range(1, 41))
            again = importing.run(ctx, CL.xlsx(rows[:3]), consent=True)
            assert {p[0] for r in again.refused for p in r.problems} == {"already_registered"}
            plan = schoolyear.plan(ctx)
            schoolyear.begin(ctx, plan.token)
            assert plan.moves[0].to is None and plan.count == 40
            assert verify.verify(ctx) == []
        finally:
            ctx.close()
