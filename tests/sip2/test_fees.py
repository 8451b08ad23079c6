"""SIP2 and fees, with the client written from the specification: the patron status
and information answers report what is owed (BV, BH), the fee limit (CC), the "too much
owed in fees" flag and the fee count and list in 64; 37 Fee Paid pays the real fees,
refusing a wrong amount or another library's fee."""

from appliance.core import circulation, policy
from appliance.core.fees import commands
from appliance.core.models import Fee

from .conftest import LIB


def _owing(lib, barcode="I0001", card="P0003"):
    policy.save_rule(lib, LIB, "*", "*", loan_days=14, max_loans=5, max_renewals=2,
                     replacement_fee=150000, fee_limit=0)
    circulation.checkout(lib, card, barcode)
    return commands.declare(lib, barcode, "lost", actor="thuthu")


def test_status_and_information_report_the_fees_and_block_loans(connect, lib):
    c = connect()
    clear = c.patron_status(LIB, "P0003")
    assert clear.f("BV") == "0" and clear.f("BH") == "VND" and clear.fixed[11] == " "
    fee = _owing(lib)
    status = c.patron_status(LIB, "P0003")
    assert status.f("BV") == "150000" and status.fixed[11] == "Y" and status.fixed[0] == "Y"
    assert any("150.000 ₫" in line and "bồi thường" in line for line in status.fields["AF"])
    info = c.patron_info(LIB, "P0003", summary="   Y      ")
    assert info.code == "64" and info.f("BV") == "150000" and info.f("CC") == "0"
    assert info.fixed[35 + 12:35 + 16] == "0001"  # fine items count
    assert info.f("AV") == f"{fee.id} 150000 I0001"
    refused = c.checkout(LIB, "P0003", "I0002")
    assert refused.fixed[0] == "0" and "bồi thường" in refused.f("AF")


def test_fee_paid_pays_the_real_fee_and_refuses_a_wrong_amount(connect, lib):
    c = connect()
    fee = _owing(lib)
    wrong = c.fee_paid(LIB, "P0003", "100000")
    assert wrong.code == "38" and wrong.fixed[0] == "N" and "150.000 ₫" in wrong.f("AF")
    assert c.fee_paid(LIB, "P0003", "150000", currency="USD").fixed[0] == "N"
    assert Fee.get_by_id(fee.id).state == "open"
    paid = c.fee_paid(LIB, "P0003", "150000.00", fee_id=fee.id)
    assert paid.fixed[0] == "Y" and paid.f("AA") == "P0003" and "150.000 ₫" in paid.f("AF")
    held = Fee.get_by_id(fee.id)
    assert (held.state, held.settled_by) == ("paid", "kiosk1")
    after = c.patron_status(LIB, "P0003")
    assert after.f("BV") == "0" and after.fixed[11] == " " and after.fixed[0] == " "
    assert c.checkout(LIB, "P0003", "I0002").fixed[0] == "1"
    again = c.fee_paid(LIB, "P0003", "150000")
    assert again.fixed[0] == "N" and again.f("AF")


def test_fee_paid_refuses_another_librarys_fee(connect, lib):
    c = connect()
    fee = _owing(lib)
    Fee.update(library="PY-OTHER").where(Fee.id == fee.id).execute()
    r = c.fee_paid(LIB, "P0003", "150000", fee_id=fee.id)
    assert r.fixed[0] == "N" and "PY-OTHER" in r.f("AF")
    assert c.fee_paid(LIB, "P0003", "150000").fixed[0] == "N"  # none of this library's
    assert Fee.get_by_id(fee.id).state == "open"
