"""The town library lends at the hub's desk, on PostgreSQL: the same commands, the plain
SQL of the loan path, the rules kept in memory and a copy's history must work there."""

from datetime import timedelta

import pytest

from appliance.core import catalogue, circulation, datadir, policy, verify
from appliance.core.errors import Refused
from tests.factories import seed
from tests.sync.syncsupport import hub_database


@pytest.fixture
def pg_ctx(tmp_path):
    with hub_database("postgresql") as url:
        ctx = datadir.init(tmp_path / "hub", "PY-TV00", "Thư viện thị xã", role="hub",
                           database=url)
        ctx.bibs = seed(ctx)
        yield ctx
        ctx.close()


def test_lend_return_and_history_on_postgresql(pg_ctx):
    ctx = pg_ctx
    natural = ctx.clock.today() + timedelta(days=14)
    assert circulation.checkout(ctx, "P0001", "1001")["due_date"] == natural.isoformat()
    with pytest.raises(Refused) as refused:
        circulation.checkout(ctx, "P0002", "1001")
    assert refused.value.code == "item_on_loan"
    returned = circulation.checkin(ctx, "1001")
    assert returned["patron"] == "P0001" and returned["was_on_loan"] is True
    policy.set_closed(ctx, ctx.library, natural)  # the rules in memory see the change
    assert circulation.checkout(ctx, "P0002", "1001")["due_date"] == (
        natural + timedelta(days=1)).isoformat()
    catalogue.set_status(ctx, "1002", "damaged")
    history = catalogue.copy_history(catalogue.get_item(ctx, "1002"))
    assert [e["fields"].get("condition") for e in history] == ["damaged", "available"]
    assert verify.verify(ctx) == []
