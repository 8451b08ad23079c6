"""A fee charged to another library's patron reaches the patron's home library, through
a real hub process on SQLite and PostgreSQL and two enrolled branches.

A patron of A (a town-wide card) loses B's copy at B, which charges the replacement.
After the syncs A holds the fee (and nothing else of B's loans or fees): its desk lists
it with B's name, the copy and the amount, says it is paid at B instead of offering a
button, and refuses A's loans above A's own limit, saying where to pay. B takes the
payment; the next sync (over a USB stick, which pages with the same routing) lifts the
block at A. A device of A that records a settlement of B's fee anyway is quarantined."""

import pytest

from appliance.core import circulation, events, policy, users
from appliance.core.authority import Quarantine
from appliance.core.errors import Forbidden, Refused
from appliance.core.fees import commands as fees
from appliance.core.models import Event, Fee, Item
from appliance.core.verify import verify
from appliance.web import create_app
from sync import agent, usb
from sync.receive import FEE_KINDS, TOWN_WIDE, concerns
from tests.conftest import PASSWORD, staff_login
from tests.sync.syncsupport import opened, running_town, seed

A, B, C = "PY-DH01", "PY-DH02", "PY-DH03"
BLOCKED = ("Bạn đọc còn nợ 120.000 ₫ tiền phí chưa nộp (mức tối đa là 100.000 ₫), trong "
           "đó 120.000 ₫ phải nộp tại Thư viện PY-DH02: không cho mượn thêm cho đến khi "
           "trả hết.")
PAY_AT_B = ("Nộp tiền tại Thư viện PY-DH02: chỉ thư viện đã tính khoản phí này mới thu tiền "
            "hoặc miễn.")


def _rule(ctx, **values):
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=5, max_renewals=1,
                     **values)


def _desk(ctx):
    client = create_app(ctx, testing=True).test_client()
    return client, staff_login(client)


def _patron_of_a(branches):
    """A's rules (a fee limit of 100.000 ₫), a patron and a copy, staff, synced: (cards,
    copies, A's device)."""
    with opened(branches[A]) as a:
        _rule(a, fee_limit=100000)
        cards, mine = seed(a, n_items=1, n_patrons=1)
        users.create(a, "thuthu", PASSWORD, "librarian")
        agent.run_once(a)
        return cards, mine, a.origin


def _charged_at_b(branches, card):
    """B lends its copies to A's card and to its own, both lost or damaged and charged."""
    with opened(branches[B]) as b:
        _rule(b, replacement_fee=120000, fee_limit=500000)  # B's limit would let it borrow
        own, copies = seed(b, n_items=2, n_patrons=1)
        agent.run_once(b)  # A's card arrives
        circulation.checkout(b, card, copies[0])
        theirs = fees.declare(b, copies[0], "lost", actor="thuthu-b")
        circulation.checkout(b, own[0], copies[1])
        bs_own = fees.declare(b, copies[1], "damaged", actor="thuthu-b")
        agent.run_once(b)
        return theirs.id, bs_own.id, copies[0]


def _a_holds_the_fee_and_refuses(a, fee_id, card, copy, mine):
    held = Fee.get_by_id(fee_id)
    assert (held.library, held.amount, held.state, held.kind) == (B, 120000, "open", "lost")
    of_b = {e.kind for e in Event.select().where(Event.library == B)} - set(TOWN_WIDE)
    assert of_b == {"fee.charged"}, "of B's loans and fees, only the fee A's patron owes"
    with pytest.raises(Refused) as refused:
        circulation.checkout(a, card, mine)
    assert refused.value.code == "fees_owed"
    assert refused.value.params["limit"] == "100.000 ₫"  # A's rules, not B's
    with pytest.raises(Forbidden) as other:  # paid at B, where it was charged
        fees.pay(a, fee_id, actor="thuthu")
    assert other.value.code == "other_library"
    client, token = _desk(a)
    page = client.get(f"/desk/patrons/{card}").get_data(as_text=True)
    row = page[page.index(f'id="fee-{fee_id}"'):]
    row = row[:row.index("</tr>")]
    for words in ("Thư viện PY-DH02", f"{copy} — Đất rừng phương Nam", "Mất sách",
                  "120.000 ₫", "chưa trả", PAY_AT_B):
        assert words in row, words
    assert "pay_fee" not in row and "/pay" not in row and "/waive" not in row
    assert "Còn nợ 120.000 ₫" in page and BLOCKED in page
    lent = client.post("/desk/checkout", data={"csrf_token": token, "card": card,
                                               "barcode": mine}, follow_redirects=True)
    assert BLOCKED in lent.get_data(as_text=True)
    assert Item.get(Item.barcode == mine).status != "on_loan"
    _the_api_says_the_same(client, fee_id, card)
    assert verify(a) == []


def _the_api_says_the_same(client, fee_id, card):
    """API v1 at A (tests/fees/test_fee_api.py): B's fee listed as owed elsewhere, and
    its payment or waiver refused with the desk's code, changing nothing."""
    totals = client.get(f"/api/v1/patrons/{card}/fees").get_json()["totals"]
    assert (totals["owed"], totals["owed_here"], totals["owed_elsewhere"]) == (
        120000, 0, 120000)
    assert totals["elsewhere"] == [{"library": B, "library_name": f"Thư viện {B}",
                                    "amount": 120000}]
    events_before = Event.select().where(Event.kind != "audit.viewed").count()
    for path, payload in (("payments", {"amount": 120000}), ("waiver", {"reason": "x"})):
        r = client.post(f"/api/v1/fees/{fee_id}/{path}", json=payload)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "other_library"
    assert Fee.get_by_id(fee_id).state == "open"
    assert Event.select().where(Event.kind != "audit.viewed").count() == events_before


def test_a_fee_charged_at_b_blocks_its_patron_at_home_until_paid_at_b(tmp_path, hub_db):
    with running_town(tmp_path, (A, B), hub_db=hub_db, admin=None) as town:
        hub_dir, branches = town.hub_dir, town.branches
        cards, mine, device_a = _patron_of_a(branches)
        fee_id, bs_own, copy = _charged_at_b(branches, cards[0])

        with opened(hub_dir):  # decided by the hub's rows: to A its patron's fee only
            routed = {lib: {e.id for e in Event.select(Event.id).where(
                concerns(lib) & (Event.kind << FEE_KINDS))} for lib in (A, B, C)}
            charge = Event.get((Event.kind == "fee.charged") & (Event.library == B)
                               & Event.body.contains(fee_id)).id
            assert routed[A] == {charge} and routed[C] == set() and len(routed[B]) == 2

        with opened(branches[A]) as a:
            agent.run_once(a)
            assert Fee.get_or_none(Fee.id == bs_own) is None, "B's own patron's fee"
            _a_holds_the_fee_and_refuses(a, fee_id, cards[0], copy, mine[0])

        with opened(branches[B]) as b:
            fees.pay(b, fee_id, actor="thuthu-b")
            agent.run_once(b)
        stick = tmp_path / "down.tvsync"
        with opened(hub_dir) as h:
            usb.export(h, stick, device=device_a)
        with opened(branches[A]) as a:
            assert usb.import_(a, stick)["applied"] >= 1
            paid = Fee.get_by_id(fee_id)
            assert (paid.state, paid.settled_by) == ("paid", "thuthu-b")
            client, token = _desk(a)
            page = client.get(f"/desk/patrons/{cards[0]}").get_data(as_text=True)
            assert "Không nợ gì." in page and PAY_AT_B not in page and "đã thu ngày" in page
            client.post("/desk/checkout", data={"csrf_token": token, "card": cards[0],
                                                "barcode": mine[0]})
            assert Item.get(Item.barcode == mine[0]).status == "on_loan", "the block lifted"
            forged = events.record(a, "fee.waived", {  # past the desk's refusal
                "fee_id": fee_id, "library": B, "patron_id": paid.patron, "amount": 120000,
                "at": a.clock.iso_now(), "actor": "thuthu", "reason": "x"}, library=B).id
            agent.run_once(a)
            assert verify(a) == []
        with opened(hub_dir) as h:
            assert {q.event_id: q.code for q in Quarantine.select()} == {forged: "other_library"}
            assert Fee.get_by_id(fee_id).state == "paid"
            assert verify(h) == []


def test_a_branch_that_pulled_under_the_old_routing_gets_its_patrons_fees_once(tmp_path,
                                                                               hub_db):
    """Pulls only move forward: a device of A that pulled past B's fee before fees went
    home (routing 0) is sent it beside its next pulls, until its cursor moves past the
    pull that carried it; then never again."""
    from sync import receive
    from sync.models import Device, DeviceRouting

    with running_town(tmp_path, (A, B), hub_db=hub_db, admin=None) as town:
        hub_dir, branches = town.hub_dir, town.branches
        cards, _mine, device_a = _patron_of_a(branches)
        fee_id, _bs_own, _copy = _charged_at_b(branches, cards[0])
        with opened(branches[A]) as a:
            agent.run_once(a)
            # as a device that pulled under routing 0 holds it: past the fee, without it
            Event.delete().where((Event.kind == "fee.charged")
                                 & Event.body.contains(fee_id)).execute()
            Fee.delete().where(Fee.id == fee_id).execute()
        with opened(hub_dir):
            DeviceRouting.delete().execute()
            DeviceRouting.create(device=device_a, version=0)

        with opened(branches[A]) as a:
            agent.run_once(a)
            assert Fee.get_by_id(fee_id).amount == 120000, "sent beside the next pull"
            assert verify(a) == []
        with opened(hub_dir):
            assert DeviceRouting.get_by_id(device_a).version == 0  # until its cursor moves
        with opened(branches[B]) as b:  # something new for A: its cursor moves on
            seed(b, n_items=1, n_patrons=0, prefix="N")
            agent.run_once(b)
        for _ in range(2):
            with opened(branches[A]) as a:
                agent.run_once(a)
        with opened(hub_dir) as h:
            assert DeviceRouting.get_by_id(device_a).version == receive.ROUTING
            dev = Device.get_by_id(device_a)
            sent, _cursor, _more = receive.pull(h, dev, dev.pull_after, 1000)
            assert not [e for e in sent if e["kind"] in FEE_KINDS], "once, not every pull"
