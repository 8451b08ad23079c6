"""Overdue fees: a late return charges its borrower the rule's `fee_per_day` for each
day late, as a fee like a lost or damaged copy's: it blocks new loans above the limit,
is paid or waived at the desk, listed on the patron page and by the API, and counted by
the statistics. A return on time charges nothing."""

import io
import re
from datetime import date

import pypdf
import pytest

from appliance.core import circulation, policy, verify
from appliance.core.errors import Refused
from appliance.core.fees import balance, commands
from appliance.core.models import Event, Fee, Item, Loan, Patron
from appliance.web.api.openapi import FEE
from tests.conftest import PASSWORD, staff_login
from tests.fees.test_fee_api import conforms

DAY_MS = 24 * 3600 * 1000


def _rule(ctx, per_day=1000, limit=0):
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     fee_per_day=per_day, fee_limit=limit)


def _later(ctx, days):
    """The desk's clock `days` on, as when the borrower comes back weeks later."""
    wall = ctx.clock._wall
    ctx.clock._wall = lambda: wall() + days * DAY_MS


def _days_late(ctx, loan_id):
    due = Loan.get_by_id(loan_id).due_date
    return (ctx.clock.today() - date.fromisoformat(due)).days


def _lent_and_late(ctx, card="P0001", barcode="1001", days=17):
    loan = circulation.checkout(ctx, card, barcode)
    _later(ctx, days)
    return loan["loan_id"]


def test_a_late_return_charges_an_overdue_fee_that_blocks_until_paid(ctx):
    _rule(ctx, limit=2000)
    loan_id = _lent_and_late(ctx)
    late = _days_late(ctx, loan_id)
    assert late >= 3
    result = circulation.checkin(ctx, "1001", actor="thuthu")
    fee = Fee.get()
    assert result["fee"] == late * 1000 and result["fee_id"] == fee.id
    assert (fee.kind, fee.amount, fee.state, fee.library, fee.loan, fee.charged_by) == (
        "overdue", late * 1000, "open", ctx.library, loan_id, "thuthu")
    assert fee.id == commands.fee_id(loan_id, "overdue")
    assert fee.item == Item.get(Item.barcode == "1001").id
    assert fee.patron == Patron.get(Patron.card == "P0001").id
    assert Loan.get_by_id(loan_id).fee == fee.amount
    assert Event.select().where(Event.kind == "fee.charged").count() == 1
    with pytest.raises(Refused) as err:
        circulation.checkout(ctx, "P0001", "1002")
    assert err.value.code == "fees_owed"
    assert err.value.params == {"amount": f"{late}.000 ₫", "limit": "2.000 ₫"}
    paid = commands.pay(ctx, fee.id, actor="thuthu")
    assert paid.state == "paid" and balance.owed(fee.patron) == (0, 0)
    circulation.checkout(ctx, "P0001", "1002")  # the block lifted with the payment
    assert verify.state_matches_rebuild(ctx) == []


def test_an_overdue_fee_may_be_waived(ctx):
    _rule(ctx)
    _lent_and_late(ctx)
    circulation.checkin(ctx, "1001")
    waived = commands.waive(ctx, Fee.get().id, "Bạn đọc ốm", actor="thuthu")
    assert (waived.state, waived.reason) == ("waived", "Bạn đọc ốm")


def test_a_return_on_time_or_with_no_daily_fee_charges_nothing(ctx):
    _rule(ctx)
    circulation.checkout(ctx, "P0001", "1001")
    _later(ctx, 14)  # the due date itself: not late
    assert circulation.checkin(ctx, "1001")["fee"] == 0
    _rule(ctx, per_day=0)
    _lent_and_late(ctx, barcode="1002")
    result = circulation.checkin(ctx, "1002")
    assert result["overdue"] and result["fee"] == 0 and result["fee_id"] is None
    assert Fee.select().count() == 0
    assert Event.select().where(Event.kind == "fee.charged").count() == 0
    circulation.checkout(ctx, "P0001", "1003")  # owes nothing: lends as before


def test_a_copy_lent_late_and_then_declared_damaged_is_charged_both(ctx):
    """Damaged copies are taken back late too: the replacement and the days late are two
    fees, each charged once."""
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     fee_per_day=1000, replacement_fee=50000, fee_limit=500000)
    _lent_and_late(ctx)
    commands.declare(ctx, "1001", "damaged")
    assert sorted((f.kind, f.amount > 0) for f in Fee.select()) == [
        ("damaged", True), ("overdue", True)]


def test_the_desk_names_the_overdue_fee_and_takes_its_payment(ctx, client):
    _rule(ctx)
    token = staff_login(client)
    _lent_and_late(ctx)
    page = client.post("/desk/checkin", data={"csrf_token": token, "barcode": "1001"},
                       follow_redirects=True).get_data(as_text=True)
    fee = Fee.get()
    amount = f"{fee.amount // 1000}.000 ₫"
    assert f"Tiền phạt: {amount}, đã ghi vào khoản phí của bạn đọc" in page
    page = client.get("/desk/patrons/P0001").get_data(as_text=True)
    assert re.search(r'<td class="fee-kind"[^>]*>Trả quá hạn</td><td class="amount"[^>]*>'
                     + re.escape(amount), page), page
    assert f"Còn nợ {amount}" in page and "Loại phí" in page
    client.post(f"/desk/fees/{fee.id}/pay", data={"csrf_token": token,
                                                   "next": "/desk/patrons/P0001"})
    assert Fee.get_by_id(fee.id).state == "paid"
    pdf = client.get(f"/desk/fees/{fee.id}/receipt.pdf")
    text = pypdf.PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert "quá hạn" in text and amount in text


def test_the_api_lists_the_overdue_fee(ctx, client):
    _rule(ctx)
    _lent_and_late(ctx)
    circulation.checkin(ctx, "1001")
    r = client.post("/api/v1/session", json={"username": "thuthu", "password": PASSWORD})
    auth = {"Authorization": f"Bearer {r.get_json()['token']}"}
    listed = client.get("/api/v1/patrons/P0001/fees", headers=auth).get_json()
    fee = Fee.get()
    [one] = listed["fees"]
    conforms(one, FEE)
    assert (one["id"], one["kind"], one["amount"], one["item"], one["state"]) == (
        fee.id, "overdue", fee.amount, "1001", "open")
    assert listed["totals"]["owed"] == fee.amount and listed["totals"]["over_limit"]
    refused = client.post("/api/v1/fees", headers=auth, json={"item": "1002",
                                                               "kind": "overdue"})
    assert refused.status_code == 400  # staff declare a loss or damage, never days late


def test_the_statistics_count_overdue_fees(ctx, client):
    _rule(ctx, limit=500000)
    _lent_and_late(ctx)
    circulation.checkin(ctx, "1001")
    commands.pay(ctx, Fee.get().id)
    amount = Fee.get().amount
    staff_login(client, "quanly")
    today = ctx.clock.today()
    html = client.get("/reports/", query_string={
        "kind": "month", "year": today.year, "number": today.month}).get_data(as_text=True)
    number = rf"{amount // 1000}[.,]?000"
    assert re.search(r'data-key="fees.charged"><td>Phí đã tính: bồi thường tài liệu mất, '
                     r'hỏng và trả quá hạn \(đồng\)</td><td class="num">' + number, html)
    assert re.search(r'data-key="fees.paid"><td>[^<]*</td><td class="num">' + number, html)


def _declared_lost_late(ctx, late_at_loss, late_at_return):
    """A copy lent, declared lost `late_at_loss` days after its due date (negative:
    before it), then found and handed in `late_at_return` days after its due date."""
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     fee_per_day=1000, replacement_fee=50000, fee_limit=500000)
    loan_id = circulation.checkout(ctx, "P0001", "1001")["loan_id"]
    _later(ctx, 14 + late_at_loss)
    assert _days_late(ctx, loan_id) == late_at_loss
    lost = commands.declare(ctx, "1001", "lost", actor="thuthu")
    _later(ctx, late_at_return - late_at_loss)
    assert _days_late(ctx, loan_id) == late_at_return
    return loan_id, lost


@pytest.mark.parametrize("late_at_loss,charged", [(3, 3000), (-2, 0), (0, 0)])
def test_a_copy_declared_lost_and_returned_late_is_late_only_until_its_loss(
        ctx, late_at_loss, charged):
    """Once declared lost, the lost charge stands in for lateness: a copy found and
    returned weeks later costs the days late up to its declaration, no more (none when
    it was declared lost by its due date), and the lost charge stays as it was."""
    loan_id, lost = _declared_lost_late(ctx, late_at_loss, 40)
    result = circulation.checkin(ctx, "1001", actor="thuthu")
    assert result["overdue"] and result["fee"] == charged
    assert result["lost_on"] == Fee.get_by_id(lost.id).charged_at[:10]
    assert Loan.get_by_id(loan_id).fee == charged
    overdue = Fee.get_or_none(Fee.id == commands.fee_id(loan_id, "overdue"))
    assert (overdue.amount if overdue else 0) == charged
    assert (result["fee_id"] is not None) == bool(charged)
    assert (Fee.get_by_id(lost.id).amount, Fee.get_by_id(lost.id).state) == (50000, "open")
    assert Item.get(Item.barcode == "1001").condition == "available", "found"
    assert verify.state_matches_rebuild(ctx) == []


def test_a_copy_returned_late_that_was_never_declared_lost_is_charged_every_day(ctx):
    _declared_lost_late(ctx, 3, 40)  # another copy's loss changes nothing for this one
    circulation.checkout(ctx, "P0002", "1002")
    _later(ctx, 20)
    result = circulation.checkin(ctx, "1002")
    assert (result["fee"], result["lost_on"]) == (6000, None)


def test_the_desk_return_of_a_copy_declared_lost_says_up_to_which_day_it_is_late(ctx, client):
    token = staff_login(client)
    _, lost = _declared_lost_late(ctx, 3, 40)
    page = client.post("/desk/checkin", data={"csrf_token": token, "barcode": "1001"},
                       follow_redirects=True).get_data(as_text=True)
    day = date.fromisoformat(Fee.get_by_id(lost.id).charged_at[:10]).strftime("%d/%m/%Y")
    assert "Tiền phạt: 3.000 ₫, đã ghi vào khoản phí của bạn đọc" in page
    assert (f"Sách đã được báo mất ngày {day}: tiền phạt quá hạn chỉ tính đến ngày đó "
            "(sau ngày đó đã có khoản phí mất sách).") in page
    page = client.get("/desk/patrons/P0001").get_data(as_text=True)
    assert re.search(r'<td class="fee-kind"[^>]*>Trả quá hạn</td><td class="amount"[^>]*>3\.000 ₫', page)
