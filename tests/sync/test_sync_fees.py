"""Fees between libraries, through a real hub process and two enrolled branches: B
charges its borrower for B's lost copy and the fee syncs; a forged A that records a
payment and a charge of B's (past its own desk's refusal) gets them quarantined at the
hub, where B's fee stays open, and B pulls none of it. B's own payment then syncs."""

import pytest

from appliance.core import circulation, events, policy
from appliance.core.authority import Quarantine
from appliance.core.errors import Forbidden
from appliance.core.fees import commands as fees
from appliance.core.models import Event, Fee, Item
from appliance.core.verify import verify
from sync import agent
from tests.sync.syncsupport import opened, running_town, seed

A, B = "PY-DH01", "PY-DH02"


@pytest.fixture
def town(tmp_path, hub_db):
    with running_town(tmp_path, (A, B), hub_db, admin=None) as town:
        town.a, town.b = town.branches[A], town.branches[B]
        with opened(town.b) as ctx:
            policy.save_rule(ctx, B, "*", "*", loan_days=14, max_loans=5, max_renewals=1,
                             replacement_fee=120000, fee_limit=0)
            cards, codes = seed(ctx, n_items=2, n_patrons=1)
            circulation.checkout(ctx, cards[0], codes[0])
            fee = fees.declare(ctx, codes[0], "lost", actor="thuthu-b")
            agent.run_once(ctx)
        with opened(town.a) as ctx:
            seed(ctx, n_items=1, n_patrons=1)
            agent.run_once(ctx)
        town.fee_id, town.item = fee.id, codes[0]
        yield town


def test_a_payment_of_bs_fee_made_at_a_is_refused_at_the_hub(town):
    with opened(town.hub_dir):
        held = Fee.get_by_id(town.fee_id)
        assert (held.library, held.amount, held.state) == (B, 120000, "open")
    with opened(town.a) as ctx:
        fee = Fee.get_or_none(Fee.id == town.fee_id)
        assert fee is None, "a fee of B is not A's business: it is not routed to A"
        with pytest.raises(Forbidden):  # A's desk says no before anything is recorded
            fees.declare(ctx, town.item, "damaged")
        item = Item.get(Item.barcode == town.item)
        forged = [events.record(ctx, "fee.paid", {
            "fee_id": town.fee_id, "library": B, "patron_id": "x", "amount": 120000,
            "at": ctx.clock.iso_now(), "actor": "thuthu-a"}, library=B).id,
            events.record(ctx, "fee.charged", {
                "fee_id": "forged-fee", "library": B, "patron_id": "x", "item_id": item.id,
                "loan_id": None, "kind": "damaged", "amount": 999000,
                "at": ctx.clock.iso_now(), "actor": "thuthu-a"}, library=B).id]
        agent.run_once(ctx)
    with opened(town.hub_dir) as hub:
        held = {q.event_id: q for q in Quarantine.select()}
        assert set(held) == set(forged)
        assert {q.code for q in held.values()} == {"other_library"}
        assert Fee.get_by_id(town.fee_id).state == "open", "the hub took no word of A's"
        assert not Fee.select().where(Fee.id == "forged-fee").exists()
        assert verify(hub) == []
    with opened(town.b) as ctx:
        agent.run_once(ctx)
        assert not Event.select().where(Event.id << forged).exists()
        assert Fee.get_by_id(town.fee_id).state == "open"
        fees.pay(ctx, town.fee_id, actor="thuthu-b")
        agent.run_once(ctx)
    with opened(town.hub_dir):
        paid = Fee.get_by_id(town.fee_id)
        assert (paid.state, paid.settled_by) == ("paid", "thuthu-b")
