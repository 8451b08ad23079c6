"""An overdue fee reaches the patron's home library like any fee, through a real hub
process on SQLite and PostgreSQL and two enrolled branches.

A patron of A (a town-wide card) brings B's copy back late at B: B's return charges the
overdue fee, in B's name. After the syncs A holds the fee, lists it as B's, blocks A's
loans above A's limit, and sees it paid once B takes the payment. The same card handing
in another of B's copies late at A is charged nothing anywhere: A does not hold the
loan's due date (circulation._away_return) and B's close of the loan, applying that
return, reckons no fee either."""

from datetime import timedelta

import pytest

from appliance.core import circulation, events, policy
from appliance.core.errors import Refused
from appliance.core.fees import commands as fees
from appliance.core.ids import new_id
from appliance.core.models import Event, Fee, Item, Loan, Patron
from appliance.core.verify import verify
from sync import agent
from tests.sync.syncsupport import opened, running_town, seed

A, B = "PY-DH01", "PY-DH02"


def _rule(ctx, **values):
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=5, max_renewals=1,
                     **values)


def _lent_weeks_ago(ctx, card, barcode, days_late):
    """A loan of this library's copy due `days_late` days ago, as the desk recorded it
    weeks back. (The hub refuses a batch made more than a day ahead of its clock, so the
    branch's clock cannot be moved on to make a loan late: the loan is dated back.)"""
    item = Item.get((Item.barcode == barcode) & (Item.library == ctx.library))
    patron = Patron.get(Patron.card == card)
    due = ctx.clock.today() - timedelta(days=days_late)
    events.record(ctx, "loan.out", {
        "loan_id": new_id(), "item_id": item.id, "patron_id": patron.id,
        "library": ctx.library, "due_date": due.isoformat(), "at": ctx.clock.iso_now(),
        "hold_id": None, "actor": "thuthu-b"}, library=ctx.library)


def test_an_overdue_fee_charged_at_b_reaches_the_patrons_home_library(tmp_path, hub_db):
    with running_town(tmp_path, (A, B), hub_db=hub_db, admin=None) as town:
        branches = town.branches
        with opened(branches[A]) as a:
            _rule(a, fee_per_day=1000, fee_limit=2000)
            cards, mine = seed(a, n_items=1, n_patrons=1)
            agent.run_once(a)
        with opened(branches[B]) as b:
            _rule(b, fee_per_day=1000, fee_limit=500000)
            _own, copies = seed(b, n_items=2, n_patrons=0)
            agent.run_once(b)  # A's card arrives
            _lent_weeks_ago(b, cards[0], copies[0], days_late=3)
            _lent_weeks_ago(b, cards[0], copies[1], days_late=4)
            returned = circulation.checkin(b, copies[0], actor="thuthu-b")
            assert returned["fee"] == 3000 and returned["fee_id"] is not None
            fee_id = returned["fee_id"]
            charged = Fee.get_by_id(fee_id)
            assert (charged.library, charged.kind, charged.amount) == (B, "overdue", 3000)
            agent.run_once(b)

        with opened(branches[A]) as a:
            agent.run_once(a)
            held = Fee.get_by_id(fee_id)
            assert (held.library, held.kind, held.amount, held.state) == (
                B, "overdue", 3000, "open")
            assert not Loan.select().where(Loan.id == held.loan).exists(), "B's loan stays B's"
            with pytest.raises(Refused) as refused:  # 3.000 ₫ owed at B, A's limit 2.000 ₫
                circulation.checkout(a, cards[0], mine[0])
            assert refused.value.code == "fees_owed"
            assert refused.value.params["elsewhere"] == "3.000 ₫"
            away = circulation.checkin(a, copies[1])  # B's copy, handed in late at A
            assert away["away"] and away["fee"] == 0
            agent.run_once(a)
            assert verify(a) == []

        with opened(branches[B]) as b:
            agent.run_once(b)  # the hand-in at A closes B's second loan: no fee reckoned
            closed = Loan.get(Loan.item == Item.get(Item.barcode == copies[1]).id)
            assert closed.returned_at is not None and closed.fee == 0
            assert [f.id for f in Fee.select()] == [fee_id]
            fees.pay(b, fee_id, actor="thuthu-b")
            agent.run_once(b)
            assert verify(b) == []

        with opened(branches[A]) as a:
            agent.run_once(a)
            assert Fee.get_by_id(fee_id).state == "paid"
            assert [f.id for f in Fee.select()] == [fee_id]
            circulation.checkout(a, cards[0], mine[0])  # the block lifted
            assert verify(a) == []
        with opened(town.hub_dir) as h:
            assert [(f.id, f.state) for f in Fee.select()] == [(fee_id, "paid")]
            assert Event.select().where(Event.kind == "fee.charged").count() == 1
            assert verify(h) == []
