"""SIP2 and fees, with the client written from the specification: the patron status
and information answers report what is owed (BV, BH), the fee limit (CC), the "too much
owed in fees" flag and the fee count and list in 64; 37 Fee Paid pays the real fees,
refusing a wrong amount or another library's fee, and a 37 sent again because its
answer was lost gets the first answer and pays nothing more, on the same connection, on
a new one, or (by its transaction id, BK) after a restart. A payment may be a part of
what is owed, never more."""

from appliance.core import circulation, policy
from appliance.core.fees import commands
from appliance.core.models import Event, Fee
from appliance.sip2.server import serve_in_thread

from .client import SipClient, now18
from .conftest import KIOSK_PASSWORD, KIOSK_USER, LIB

RUN_DATE = now18()  # a resent line is the same line, transaction date and all


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
    assert any("150.000 ₫" in line and "tiền phí chưa nộp" in line for line in status.fields["AF"])
    info = c.patron_info(LIB, "P0003", summary="   Y      ")
    assert info.code == "64" and info.f("BV") == "150000" and info.f("CC") == "0"
    assert info.fixed[35 + 12:35 + 16] == "0001"  # fine items count
    assert info.f("AV") == f"{fee.id} 150000 I0001"
    refused = c.checkout(LIB, "P0003", "I0002")
    assert refused.fixed[0] == "0" and "tiền phí chưa nộp" in refused.f("AF")


def test_fee_paid_pays_the_real_fee_in_parts_and_refuses_too_much(connect, lib):
    c = connect()
    fee = _owing(lib)
    assert c.fee_paid(LIB, "P0003", "150000", currency="USD").fixed[0] == "N"
    too_much = c.fee_paid(LIB, "P0003", "150001")
    assert too_much.fixed[0] == "N" and "150.000 ₫" in too_much.f("AF")
    part = c.fee_paid(LIB, "P0003", "100000")  # part of it: the fee stays open
    assert part.fixed[0] == "Y" and "100.000 ₫" in part.f("AF")
    assert "Còn nợ: 50.000 ₫" in part.f("AF")
    assert Fee.get_by_id(fee.id).state == "open"
    info = c.patron_info(LIB, "P0003", summary="   Y      ")
    assert info.f("BV") == "50000" and info.f("AV") == f"{fee.id} 50000 I0001"
    over = c.fee_paid(LIB, "P0003", "60000", fee_id=fee.id)
    assert over.fixed[0] == "N" and "50.000 ₫" in over.f("AF")
    paid = c.fee_paid(LIB, "P0003", "50000.00", fee_id=fee.id)
    assert paid.fixed[0] == "Y" and paid.f("AA") == "P0003" and "50.000 ₫" in paid.f("AF")
    assert "Còn nợ" not in paid.f("AF")
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


# --- a payment sent again because its answer was lost ---------------------------------

def _payment(c, amount, bk=""):
    """A 37 for everything P0003 owes here, framed once so that it can be sent again."""
    transaction = f"BK{bk}|" if bk else ""
    return c.frame(f"37{RUN_DATE}0100VNDBV{amount}|AO{LIB}|AAP0003|AC|{transaction}")


def _paid_events():
    return Event.select().where(Event.kind == "fee.paid").count()


def test_a_resent_payment_gets_the_first_answer_and_pays_once(connect, lib):
    c = connect()
    fee = _owing(lib)
    line = _payment(c, "150000")
    c.send_raw(line)
    first = c.reply()
    assert first.fixed[0] == "Y" and "150.000 ₫" in first.f("AF")
    c.send_raw(line)  # the machine did not hear the answer: same AY, same amount
    assert c.reply().raw == first.raw
    assert _paid_events() == 1 and Fee.get_by_id(fee.id).state == "paid"
    later = _owing(lib, "I0002")  # a new fee, and a new payment for it
    second = c.fee_paid(LIB, "P0003", "150000")
    assert second.fixed[0] == "Y" and second.raw != first.raw
    assert _paid_events() == 2 and Fee.get_by_id(later.id).state == "paid"


def test_a_resent_payment_never_pays_a_fee_charged_meanwhile(connect, lib):
    """Run again, the same line would pay the desk's new fee of the same amount with
    money the machine took once."""
    c = connect()
    _owing(lib)
    line = _payment(c, "150000")
    c.send_raw(line)
    first = c.reply()
    assert first.fixed[0] == "Y"
    meanwhile = _owing(lib, "I0002")
    c.send_raw(line)
    assert c.reply().raw == first.raw
    assert _paid_events() == 1 and Fee.get_by_id(meanwhile.id).state == "open"


def test_a_refused_payment_sent_again_is_run_again(connect, lib):
    """A refusal holds only while nothing changed: the desk charged another fee, and
    the amount that was more than was owed now is not."""
    c = connect()
    first = _owing(lib)
    line = _payment(c, "200000")
    c.send_raw(line)
    assert c.reply().fixed[0] == "N"
    second = _owing_more(lib)
    c.send_raw(line)
    assert c.reply().fixed[0] == "Y" and _paid_events() == 2  # oldest first, in two parts
    assert Fee.get_by_id(first.id).state == "paid" and Fee.get_by_id(second.id).state == "open"
    assert c.patron_status(LIB, "P0003").f("BV") == "100000"


def _owing_more(lib):
    """A second fee for P0003, charged while the first is open (the desk lends anyway)."""
    policy.save_rule(lib, LIB, "*", "*", loan_days=14, max_loans=5, max_renewals=2,
                     replacement_fee=150000, fee_limit=1000000)
    circulation.checkout(lib, "P0003", "I0002")
    return commands.declare(lib, "I0002", "lost", actor="thuthu")


def test_a_payment_without_sequence_number_is_a_retry_by_its_transaction_id(connect, lib):
    c = connect(error_detection=False)
    _owing(lib)
    line = _payment(c, "150000", bk="KIOSK-0042")
    c.send_raw(line)
    first = c.reply()
    c.send_raw(line)
    assert first.fixed[0] == "Y" and c.reply().raw == first.raw
    assert _paid_events() == 1
    # without AY or BK two identical lines may be two payments: each is run
    _owing(lib, "I0002")
    bare = _payment(c, "150000")
    c.send_raw(bare)
    assert c.reply().fixed[0] == "Y"
    c.send_raw(bare)
    again = c.reply()
    assert again.fixed[0] == "N" and _paid_events() == 2


def test_a_late_return_at_the_machine_charges_a_fee_the_machine_takes(connect, lib):
    """A copy handed in late at the self-service machine charges its overdue fee: 64
    lists it, the card is blocked above the limit, and 37 pays it."""
    policy.save_rule(lib, LIB, "*", "*", loan_days=14, max_loans=5, max_renewals=2,
                     fee_per_day=2000, fee_limit=0)
    c = connect()
    circulation.checkout(lib, "P0003", "I0001")
    wall = lib.clock._wall
    lib.clock._wall = lambda: wall() + 20 * 24 * 3600 * 1000  # back twenty days on
    assert c.checkin(LIB, "I0001").fixed[0] == "1"
    fee = Fee.get()
    assert fee.kind == "overdue" and fee.amount >= 2000 and fee.state == "open"
    info = c.patron_info(LIB, "P0003", summary="   Y      ")
    assert info.f("BV") == str(fee.amount) and info.fixed[11] == "Y"
    assert info.f("AV") == f"{fee.id} {fee.amount} I0001"
    assert c.checkout(LIB, "P0003", "I0002").fixed[0] == "0"
    paid = c.fee_paid(LIB, "P0003", str(fee.amount), fee_id=fee.id)
    assert paid.fixed[0] == "Y" and Fee.get_by_id(fee.id).state == "paid"
    assert c.checkout(LIB, "P0003", "I0002").fixed[0] == "1"


# --- a payment sent again on a new connection, or after a restart ---------------------

def test_a_payment_resent_on_a_new_connection_gets_the_first_answer_and_pays_once(connect,
                                                                                  lib):
    """The machine lost its connection before it heard the answer: it connects, logs in
    again and resends the same line (same AY). The server knows it by the login."""
    c = connect()
    fee = _owing(lib)
    line = _payment(c, "100000")  # a part of the fee
    c.send_raw(line)
    first = c.reply()
    assert first.fixed[0] == "Y" and "100.000 ₫" in first.f("AF")
    c.close()
    again = connect()
    again.send_raw(line)
    assert again.reply().raw == first.raw
    assert _paid_events() == 1 and Fee.get_by_id(fee.id).state == "open"
    assert again.patron_status(LIB, "P0003").f("BV") == "50000"


def test_a_payment_resent_by_its_transaction_id_after_a_restart_pays_once(lib, connect,
                                                                          sip):
    """The same BK from the same machine is the same payment, whatever came between: a
    new connection, a new sequence number, a server restarted (its memory gone); the
    payment recorded with its BK says so."""
    c = connect()
    fee = _owing(lib)
    body = f"37{RUN_DATE}0100VNDBV100000|AO{LIB}|AAP0003|AC|BKKIOSK-7|"
    first = c.call(body)
    assert first.fixed[0] == "Y" and first.f("BK") == "KIOSK-7"
    c.close()
    sip.shutdown()
    restarted = serve_in_thread(lib, "127.0.0.1", 0, idle_timeout=5)
    try:
        d = SipClient("127.0.0.1", restarted.port)
        assert d.login(KIOSK_USER, KIOSK_PASSWORD).fixed == "1"
        d.seq = 7  # another sequence number: another line, the same payment
        again = d.call(body)
        assert again.fixed[0] == "Y" and again.f("BK") == "KIOSK-7"
        assert again.f("AF") == first.f("AF")  # 100.000 ₫ received, 50.000 ₫ still owed
        assert _paid_events() == 1 and Fee.get_by_id(fee.id).state == "open"
        new = d.call(body.replace("KIOSK-7", "KIOSK-8").replace("BV100000", "BV50000"))
        assert new.fixed[0] == "Y" and _paid_events() == 2
        assert Fee.get_by_id(fee.id).state == "paid"
        d.close()
    finally:
        restarted.shutdown()
