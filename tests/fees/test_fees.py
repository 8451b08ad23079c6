"""Fees for copies lost or damaged on loan: the charge (the copy's price, else the
rule's replacement charge), payment and waiver, the block above the rules' limit, the
state a rebuild gives, and who may charge and settle (the hub's check)."""

import pytest

from appliance.core import authority, catalogue, circulation, patrons, policy, verify
from appliance.core.errors import DomainError, Forbidden, Invalid, Refused
from appliance.core.fees import balance, commands, vnd
from appliance.core.models import Fee, Item, Loan


def _rule(ctx, **values):
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     **values)


def _patron(card):
    return patrons.Patron.get(patrons.Patron.card == card)


def test_vnd_is_written_as_vietnamese_readers_write_it():
    assert vnd(150000) == "150.000 ₫"
    assert vnd(0) == "0 ₫" and vnd(1234567) == "1.234.567 ₫"


def test_a_lost_copy_is_charged_its_price_and_blocks_new_loans_until_paid(ctx):
    _rule(ctx, replacement_fee=80000, fee_limit=0)
    item = Item.get(Item.barcode == "1001")
    catalogue.save_item(ctx, {"id": item.id, "price": "150.000"})
    circulation.checkout(ctx, "P0001", "1001")
    fee = commands.declare(ctx, "1001", "lost", actor="thuthu")
    assert (fee.amount, fee.kind, fee.state, fee.library) == (150000, "lost", "open", ctx.library)
    assert Item.get_by_id(item.id).condition == "lost"
    assert Loan.get(Loan.item == item.id).returned_at is None  # open until found
    assert balance.owed(_patron("P0001").id) == (150000, 1)
    with pytest.raises(Refused) as err:
        circulation.checkout(ctx, "P0001", "1002")
    assert err.value.code == "fees_owed"
    assert err.value.params == {"amount": "150.000 ₫", "limit": "0 ₫"}
    with pytest.raises(Refused):  # the same loss is charged once
        commands.declare(ctx, "1001", "lost")
    paid = commands.pay(ctx, fee.id, actor="thuthu")
    assert paid.state == "paid" and paid.settled_by == "thuthu"
    assert balance.owed(_patron("P0001").id) == (0, 0)
    circulation.checkout(ctx, "P0001", "1002")  # the block lifted with the payment
    with pytest.raises(Refused):
        commands.pay(ctx, fee.id)


def test_a_damaged_copy_is_taken_back_and_charged_the_rules_default(ctx):
    _rule(ctx, replacement_fee=60000, fee_limit=100000)
    circulation.checkout(ctx, "P0002", "1003")
    fee = commands.declare(ctx, "1003", "damaged")
    assert fee.amount == 60000
    item = Item.get(Item.barcode == "1003")
    assert item.condition == "damaged" and item.status == "damaged"
    assert Loan.get(Loan.item == item.id).returned_at is not None
    circulation.checkout(ctx, "P0002", "1002")  # 60.000 ₫ owed, under the 100.000 ₫ limit
    with pytest.raises(Invalid):
        commands.waive(ctx, fee.id, "  ")
    waived = commands.waive(ctx, fee.id, "Gia đình khó khăn")
    assert (waived.state, waived.reason) == ("waived", "Gia đình khó khăn")


def test_no_price_and_no_default_is_refused_clearly(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    with pytest.raises(Refused) as err:
        commands.declare(ctx, "1001", "lost")
    assert err.value.code == "no_price"
    assert Fee.select().count() == 0 and Item.get(Item.barcode == "1001").condition == "available"


def test_a_copy_not_on_loan_is_not_charged(ctx):
    _rule(ctx, replacement_fee=50000)
    with pytest.raises(Refused) as err:
        commands.declare(ctx, "1002", "lost")
    assert err.value.code == "not_on_loan"


def test_a_price_is_a_whole_number_of_dong(ctx):
    item = Item.get(Item.barcode == "1002")
    with pytest.raises(Invalid):
        catalogue.save_item(ctx, {"id": item.id, "price": "12,5k"})
    catalogue.save_item(ctx, {"id": item.id, "price": "95 000"})
    assert Item.get_by_id(item.id).price == 95000


def test_a_rebuild_gives_the_same_fees(ctx):
    _rule(ctx, replacement_fee=50000, fee_limit=200000)
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkout(ctx, "P0002", "1002")
    paid = commands.declare(ctx, "1001", "lost")
    commands.pay(ctx, paid.id)
    commands.declare(ctx, "1002", "damaged")
    assert verify.state_matches_rebuild(ctx) == []
    assert {(f.kind, f.state) for f in Fee.select()} == {("lost", "paid"), ("damaged", "open")}


def _event(kind, library, body):
    return {"id": "e1", "kind": kind, "library": library, "body": body}


def test_the_hub_refuses_a_fee_of_another_librarys_copy_or_another_librarys_payment(ctx):
    _rule(ctx, replacement_fee=50000)
    circulation.checkout(ctx, "P0001", "1001")
    fee = commands.declare(ctx, "1001", "lost")
    item = Item.get(Item.barcode == "1001")
    charge = _event("fee.charged", "OTHER", {"fee_id": "x", "library": "OTHER",
                                             "item_id": item.id, "patron_id": fee.patron})
    payment = _event("fee.paid", "OTHER", {"fee_id": fee.id, "library": "OTHER"})
    waiver = _event("fee.waived", ctx.library, {"fee_id": fee.id, "library": ctx.library})
    lookup = authority.batch_lookup([charge, payment, waiver])
    assert authority.check(charge, "OTHER", lookup).code == "other_library"
    assert authority.check(payment, "OTHER", lookup).code == "other_library"
    assert authority.check(waiver, ctx.library, lookup) is None
    lied = _event("fee.paid", "OTHER", {"fee_id": fee.id, "library": ctx.library})
    assert authority.check(lied, ctx.library, lookup).code == "library_mismatch"


def test_another_librarys_desk_may_not_settle_a_fee(ctx):
    _rule(ctx, replacement_fee=50000)
    circulation.checkout(ctx, "P0001", "1001")
    fee = commands.declare(ctx, "1001", "lost")
    Fee.update(library="OTHER").where(Fee.id == fee.id).execute()
    with pytest.raises(Forbidden):
        commands.pay(ctx, fee.id)
    with pytest.raises(DomainError):
        commands.waive(ctx, fee.id, "tìm thấy")
    Fee.update(library=ctx.library).where(Fee.id == fee.id).execute()


def test_the_patrons_data_export_gives_each_fee_what_was_paid_and_its_balance(ctx):
    from appliance.core.rights import export

    _rule(ctx, replacement_fee=80000)
    for barcode in ("1001", "1002"):
        circulation.checkout(ctx, "P0001", barcode)
    part = commands.declare(ctx, "1001", "lost")
    whole = commands.declare(ctx, "1002", "damaged")
    commands.pay(ctx, part.id, amount=30000)
    commands.pay(ctx, whole.id)
    fees = export.collect(_patron("P0001"))["fees"]
    assert sorted((f["kind"], f["amount"], f["paid"], f["balance"], f["status"])
                  for f in fees) == [("damaged", 80000, 80000, 0, "paid"),
                                     ("lost", 80000, 30000, 50000, "open")]
