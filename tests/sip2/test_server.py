"""The SIP2 server driven over TCP by the spec-based client: every message type."""

import socket
import time
import unicodedata

from appliance.core import catalogue, patrons
from appliance.core.models import Event, Loan
from appliance.sip2.server import serve_in_thread
from tests.factories import loans_fall_due_today

from .client import SipClient, add_checksum, checksum_ok
from .conftest import KIOSK_PASSWORD, KIOSK_USER, LIB


def loans_of(card):
    return [ln.item.barcode for ln in patrons.open_loans(patrons.find(None, card, library=LIB))]


def test_login_required_and_refused_for_bad_passwords_and_staff(connect):
    c = connect(login=False)
    r = c.patron_status(LIB, "P0001")
    assert r.code == "24" and r.f("BL") == "N" and r.f("AF")
    assert c.login(KIOSK_USER, "wrong").fixed == "0"
    assert c.login("librarian1", "librarian-secret").fixed == "0"  # not a kiosk account
    assert c.login(KIOSK_USER, KIOSK_PASSWORD).fixed == "1"
    assert c.patron_status(LIB, "P0001").f("BL") == "Y"


def test_repeated_failed_logins_close_the_connection(connect):
    c = connect(login=False)
    assert c.login(KIOSK_USER, "wrong1").fixed == "0"
    assert c.login(KIOSK_USER, "wrong2").fixed == "0"
    assert c.login(KIOSK_USER, "wrong3").fixed == "0"
    try:
        c.sc_status()
        closed = False
    except (ConnectionError, OSError):
        closed = True
    assert closed


def test_sc_status(connect):
    r = connect().sc_status()
    assert r.code == "98"
    assert r.fixed[:3] == "YYY" and r.fixed[-4:] == "2.00"
    assert r.f("AO") == LIB and r.f("AM") == "Thư viện phường Đông Hòa"
    assert len(r.f("BX")) == 16 and r.f("BX")[1] == "Y"


def test_patron_status_and_information(connect, lib):
    c = connect()
    r = c.patron_status(LIB, "P0001", pin="1234")
    assert r.fixed[:14] == " " * 14
    assert r.f("AE") == "Nguyễn Thị Đào" and r.f("BL") == "Y" and r.f("CQ") == "Y"
    assert c.patron_status(LIB, "P0001", pin="9999").f("CQ") == "N"
    blocked = c.patron_status(LIB, "P0002")
    assert blocked.fixed[:4] == "YYYY" and "Mất thẻ" in blocked.f("AF")
    assert c.patron_status(LIB, "NOPE").f("BL") == "N"
    assert c.checkout(LIB, "P0001", "I0001", pin="1234").fixed[0] == "1"
    assert c.checkout(LIB, "P0001", "I0004", pin="1234").fixed[0] == "1"
    info = c.patron_info(LIB, "P0001", summary="  Y       ")
    assert info.code == "64"
    assert info.fixed[35 + 8:35 + 12] == "0002"  # charged items count
    assert sorted(info.fields["AU"]) == ["I0001", "I0004"]
    assert info.f("CB") == "0005"
    assert "AU" not in c.patron_info(LIB, "P0001").fields


def test_checkout_checkin_cycle_writes_events(connect, lib):
    c = connect()
    before = Event.select().count()
    r = c.checkout(LIB, "P0003", "I0002")
    assert r.code == "12" and r.fixed[0] == "1" and r.f("AJ") == "Truyện Kiều"
    assert len(r.f("AH")) == 18 and r.f("AF").startswith("Hạn trả")
    assert loans_of("P0003") == ["I0002"]
    info = c.item_info(LIB, "I0002")
    assert info.code == "18" and info.fixed[:2] == "04" and info.f("AH") == r.f("AH")
    back = c.checkin(LIB, "I0002")
    assert back.code == "10" and back.fixed[0] == "1" and back.fixed[3] == "N"
    assert loans_of("P0003") == []
    assert c.item_info(LIB, "I0002").fixed[:2] == "03"
    assert Event.select().count() == before + 2


def test_refusals_have_plain_reasons(connect, lib):
    c = connect()
    blocked = c.checkout(LIB, "P0002", "I0003")
    assert blocked.fixed[0] == "0" and "Mất thẻ" in blocked.f("AF")
    assert c.checkout(LIB, "P0003", "I0003").fixed[0] == "1"
    taken = c.checkout(LIB, "P0001", "I0003")
    assert taken.fixed[0] == "0" and taken.f("AF")
    missing = c.checkout(LIB, "P0003", "NOPE1")
    assert missing.fixed[0] == "0" and "NOPE1" in missing.f("AF")
    assert loans_of("P0001") == []


def test_english_when_the_terminal_asks(connect, lib):
    c = connect()
    r = c.patron_status(LIB, "NOPE", lang="001")
    assert r.f("AF") == "No patron has card NOPE."
    c.checkout(LIB, "P0003", "I0001")
    loans_fall_due_today(lib)
    assert c.renew(LIB, "P0003", "I0001").f("AF").startswith("Hạn trả: ")
    assert c.end_session(LIB, "P0003").f("AF") == "Cảm ơn bạn. Hẹn gặp lại!"


def test_pin_required_and_lockout(connect, lib):
    lib.settings["kiosk_pin_required"] = True
    c = connect()
    assert c.checkout(LIB, "P0001", "I0005").fixed[0] == "0"
    for _ in range(5):
        r = c.checkout(LIB, "P0001", "I0005", pin="0000")
        assert r.fixed[0] == "0"
    locked = c.checkout(LIB, "P0001", "I0005", pin="1234")
    assert locked.fixed[0] == "0" and locked.f("AF")
    assert loans_of("P0001") == []


def test_renew_and_renew_all(connect, lib):
    c = connect()
    c.checkout(LIB, "P0003", "I0007")
    c.checkout(LIB, "P0003", "I0008")
    loans_fall_due_today(lib)
    r = c.renew(LIB, "P0003", "I0007")
    assert r.code == "30" and r.fixed[:2] == "1Y" and len(r.f("AH")) == 18
    assert c.renew(LIB, "P0001", "I0007").fixed[0] == "0"  # not this patron's loan
    loans_fall_due_today(lib)
    all_ = c.renew_all(LIB, "P0003")
    assert all_.code == "66" and all_.fixed[0] == "1"
    assert sorted(all_.fields.get("BM", []) + all_.fields.get("BN", [])) == ["I0007", "I0008"]
    loan = Loan.get(Loan.returned_at.is_null() & (Loan.item == catalogue.get_item(lib, "I0007")))
    assert loan.renewals == 2


def test_hold_place_and_cancel(connect, lib):
    c = connect()
    for barcode in ("I0004", "I0005", "I0006"):
        assert c.checkout(LIB, "P0003", barcode).fixed[0] == "1"
    r = c.hold(LIB, "P0001", "+", item="I0004")
    assert r.code == "16" and r.fixed[:2] == "1N"
    again = c.hold(LIB, "P0001", "+", item="I0004")
    assert again.fixed[0] == "0" and again.f("AF")
    back = c.checkin(LIB, "I0005")
    assert back.fixed[3] == "Y" and back.f("CL") == "HOLD" and back.f("AA") == "P0001"
    assert c.item_info(LIB, "I0005").fixed[:2] == "08"
    refused = c.checkout(LIB, "P0003", "I0005")
    assert refused.fixed[0] == "0" and refused.f("AF")
    assert c.hold(LIB, "P0001", "-", item="I0004").fixed[0] == "1"
    assert c.hold(LIB, "P0001", "-", item="I0004").fixed[0] == "0"


def test_block_enable_end_session_fee_and_status_update(connect, lib):
    c = connect()
    r = c.block_patron(LIB, "P0003", "card left in the machine")
    assert r.code == "24" and r.fixed[0] == "Y"
    assert c.checkout(LIB, "P0003", "I0001").fixed[0] == "0"
    assert c.patron_enable(LIB, "P0003").fixed[0] == " "
    assert c.patron_enable(LIB, "P0002").fixed[0] == "Y"  # a staff block stays
    end = c.end_session(LIB, "P0003")
    assert end.code == "36" and end.fixed[0] == "Y"
    fee = c.fee_paid(LIB, "P0003", "5000")
    assert fee.code == "38" and fee.fixed[0] == "N" and fee.f("AF")
    upd = c.item_status_update(LIB, "I0001", "red cover")
    assert upd.code == "20" and upd.fixed[0] == "0"


def test_cancel_checkout(connect, lib):
    c = connect()
    assert c.checkout(LIB, "P0003", "I0009").fixed[0] == "1"
    r = c.call(f"11NN{'2'*8}    000000{' '*18}AO{LIB}|AAP0003|ABI0009|AC|BIY|")
    assert r.fixed[0] == "1"
    assert loans_of("P0003") == []


def test_checksum_errors_resend_and_crlf(connect, sip):
    c = connect()
    c.send_raw(b"9900302.00AY1AZ0000\r")
    bad = c.reply()
    assert bad.raw == b"96AZFEF6"
    ok = c.sc_status()
    assert ok.code == "98"
    again = c.resend()
    assert again.raw == ok.raw
    crlf = connect(terminator=b"\r\n")
    assert crlf.sc_status().code == "98" and crlf.sc_status().code == "98"
    plain = connect(error_detection=False)
    r = plain.patron_status(LIB, "P0001")
    assert r.f("AE") == "Nguyễn Thị Đào" and r.raw[-6:-4] != b"AZ"


def test_sequence_number_is_echoed(connect):
    c = connect()
    for _ in range(12):
        seq = c.seq
        r = c.sc_status()
        assert r.seq == seq and checksum_ok(r.raw)


def test_a_resent_checkout_is_not_applied_twice(connect, lib):
    c = connect()
    frame = c.frame(f"11NN{'2'*8}    000000{' '*18}AO{LIB}|AAP0003|ABI0006|AC|")
    c.send_raw(frame)
    first = c.reply()
    c.send_raw(frame)  # the terminal never saw the answer and sends the same bytes
    second = c.reply()
    assert first.raw == second.raw and first.fixed[0] == "1"
    assert Loan.select().count() == 1


def test_per_account_encoding(connect, lib):
    lib.settings["sip2_accounts"] = {KIOSK_USER: {"encoding": "cp1258"}}
    c = connect(encoding="cp1258")
    r = c.patron_status(LIB, "P0001")
    assert unicodedata.normalize("NFC", r.f("AE")) == "Nguyễn Thị Đào"
    assert "Đ".encode("cp1258") in r.raw and "Đ".encode("utf-8") not in r.raw
    title = c.checkout(LIB, "P0001", "I0002", pin="1234").f("AJ")
    assert unicodedata.normalize("NFC", title) == "Truyện Kiều"


def test_garbage_overlong_idle_and_drops(sip, connect, lib):
    c = connect()
    c.send_raw(b"\x00\xff garbage\r")
    assert c.reply().raw == b"96AZFEF6"
    assert c.sc_status().code == "98"
    # too many bad lines in a row: the server hangs up
    for _ in range(5):
        c.send_raw(b"zz\r")
    got = b""
    try:
        while True:
            chunk = c.sock.recv(4096)
            if not chunk:
                break
            got += chunk
    except OSError:
        pass
    assert got.count(b"96AZFEF6") == 5
    # an over-long line is cut off
    s = socket.create_connection(("127.0.0.1", sip.port), timeout=5)
    s.sendall(b"9" * 20000)
    assert s.recv(100) == b""
    s.close()
    # a connection dropped half-way through a message changes nothing
    before = Event.select().count()
    d = SipClient("127.0.0.1", sip.port)
    d.login(KIOSK_USER, KIOSK_PASSWORD)
    d.send_raw(add_checksum(b"11NN20240101    000000" + b" " * 18 + b"AOX|AAP0003|ABI0001|AY2AZ")[:30])
    d.close()
    # the server keeps serving others, and the half message did nothing
    assert connect().sc_status().code == "98"
    assert Event.select().count() == before


def test_idle_connection_is_closed(lib):
    handle = serve_in_thread(lib, "127.0.0.1", 0, idle_timeout=0.5)
    try:
        c = SipClient("127.0.0.1", handle.port)
        assert c.login(KIOSK_USER, KIOSK_PASSWORD).fixed == "1"
        start = time.monotonic()
        assert c.sock.recv(10) == b""
        assert 0.4 <= time.monotonic() - start < 3
        c.close()
    finally:
        handle.shutdown()
