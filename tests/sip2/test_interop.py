"""Machines set up for Koha, and machines that retry: what they send, the answers they need.

Koha's client emulator (misc/sip_cli_emulator.pl in Koha's repository) shows how such
machines talk: lines ended with CR LF by default, no AY/AZ, a language field in item
information, one transaction date for every message of a run. Everything here goes
through the spec-based client to a real server on loopback.
"""

import socket
import threading
import time

import pytest

from appliance.core import catalogue, circulation, patrons, policy
from appliance.core.models import Loan
from appliance.sip2 import retry, server
from tests.factories import loans_fall_due_today

from .client import CR, CRLF, LF, add_checksum, now18
from .conftest import KIOSK_PASSWORD, KIOSK_USER, LIB

# A transaction date fixed for a whole run, as the emulator computes it once.
RUN_DATE = now18()


def open_loans(card):
    return sorted(ln.item.barcode for ln in patrons.open_loans(patrons.find(None, card,
                                                                            library=LIB)))


# --- terminators ---------------------------------------------------------------

@pytest.mark.parametrize("ending", [CR, CRLF, LF], ids=["CR", "CRLF", "LF"])
def test_each_answer_ends_as_the_request_did(connect, ending):
    """The client reads up to its own terminator only, with a short time-out: an answer
    ending otherwise makes it time out (or trips on a stray LF) and the test fails."""
    c = connect(login=False, terminator=ending, timeout=2)
    assert c.login(KIOSK_USER, KIOSK_PASSWORD).fixed == "1"
    assert c.sc_status().code == "98"
    status = c.patron_status(LIB, "P0001")
    assert status.f("AE") == "Nguyễn Thị Đào"
    c.send_raw(b"9900302.00AY1AZ0000" + ending)  # bad checksum: 96, ended the same way
    assert c.reply().raw == b"96AZFEF6"
    assert c.resend().raw == status.raw
    assert c.nothing_more() == b""


def _read_until(sock, end):
    got = b""
    while not got.endswith(end):
        chunk = sock.recv(4096)
        assert chunk, f"closed after {got!r}"
        got += chunk
    return got


def test_a_cr_lf_machine_never_waits_for_its_lf(connect):
    """CR LF split over two packets: the CR is answered at once (a CR machine would wait
    otherwise), and the LF that follows completes that answer's terminator; from then on
    such a CR is answered with CR LF straight away."""
    c = connect(login=False, terminator=CRLF, timeout=2)
    c.send_raw(c.frame(f"9300CN{KIOSK_USER}|CO{KIOSK_PASSWORD}|")[:-1])  # up to the CR
    assert _read_until(c.sock, CR).startswith(b"941")
    c.send_raw(LF)
    assert _read_until(c.sock, LF) == LF
    c.send_raw(c.frame("9900302.00")[:-1])
    assert _read_until(c.sock, CRLF).startswith(b"98")
    c.send_raw(LF)
    assert c.nothing_more() == b""
    assert c.sc_status().code == "98" and c.nothing_more() == b""


@pytest.mark.parametrize("ending", [CR, CRLF, LF], ids=["CR", "CRLF", "LF"])
def test_requests_sent_a_byte_at_a_time(connect, ending):
    """However the bytes are cut into packets, every answer ends as its request did."""
    c = connect(login=False, terminator=ending, timeout=2)
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for body in (f"9300CN{KIOSK_USER}|CO{KIOSK_PASSWORD}|", "9900302.00",
                 f"23000{now18()}AO{LIB}|AAP0001|AC|AD|"):
        for byte in c.frame(body):
            c.send_raw(bytes([byte]))
        assert c.reply().code in ("94", "98", "24")
    assert c.nothing_more() == b""


@pytest.mark.parametrize("setting, ends", [("CRLF", CRLF), ("cr", CR)])
def test_an_account_may_fix_its_terminator(connect, lib, setting, ends):
    lib.settings["sip2_accounts"] = {KIOSK_USER: {"terminator": setting}}
    sends = CR if ends == CRLF else CRLF
    c = connect(login=False, terminator=sends, reads=ends, timeout=2)
    assert c.login(KIOSK_USER, KIOSK_PASSWORD).fixed == "1"
    assert c.sc_status().code == "98"
    assert c.nothing_more() == b""


# --- fields the specification does not list -------------------------------------

def test_koha_emulator_session_over_crlf_without_error_detection(connect, lib):
    """The emulator's messages, as it builds them (language 001, one date per run)."""
    c = connect(login=False, terminator=CRLF, error_detection=False, timeout=2)
    assert c.call(f"9300CN{KIOSK_USER}|CO{KIOSK_PASSWORD}|CP{LIB}|").fixed == "1"
    assert c.call("9900302.00").code == "98"
    # item information with a language field before the date, as the emulator sends it
    info = c.call(f"17001{RUN_DATE}AO{LIB}|ABI0004|AC{KIOSK_PASSWORD}|")
    assert info.code == "18" and info.fixed[:2] == "03"
    assert info.f("AB") == "I0004" and info.f("AJ") == "Dế Mèn phiêu lưu ký"
    out = c.call(f"11YN{RUN_DATE}{RUN_DATE}AO{LIB}|AAP0003|ABI0004|AC{KIOSK_PASSWORD}|BON|BIN|")
    assert out.code == "12" and out.fixed[0] == "1" and out.f("AJ") == "Dế Mèn phiêu lưu ký"
    info = c.call(f"63001{RUN_DATE}  Y       AO{LIB}|AAP0003|AC{KIOSK_PASSWORD}|")
    assert info.fields["AU"] == ["I0004"]
    back = c.call(f"09N{RUN_DATE}{RUN_DATE}AP{LIB}|AO{LIB}|ABI0004|AC{KIOSK_PASSWORD}|BIN|")
    assert back.code == "10" and back.fixed[0] == "1"
    assert open_loans("P0003") == []


def test_fields_not_listed_for_a_message_are_ignored(connect, lib):
    c = connect()
    # AA and a vendor's ZZ are not item-information fields; "5x" is no field at all
    info = c.call(f"17{now18()}AO{LIB}|AAP0001|ZZvendor|5x|ABI0007|AC|")
    assert info.code == "18" and info.f("AJ") == "Số đỏ"
    # AJ is not a checkout field: the checkout goes ahead, checksum and all
    out = c.call(f"11NN{now18()}{' ' * 18}AO{LIB}|AAP0003|ABI0007|AJwhatever|AC|")
    assert out.fixed[0] == "1" and out.f("AJ") == "Số đỏ"
    assert open_loans("P0003") == ["I0007"]


@pytest.mark.parametrize("trailer", [b"AY1AZ123", b"AY1AZ", b"AY1AZ12G4", b"AZ12",
                                     b"AYAZ1234"])
def test_a_broken_trailer_is_refused_not_run_unchecked(connect, lib, trailer):
    c = connect()
    c.send_raw(f"11NN{now18()}{' ' * 18}AO{LIB}|AAP0003|ABI0008|AC|".encode() + trailer + CR)
    assert c.reply().raw == b"96AZFEF6"
    assert open_loans("P0003") == []
    c.send_raw(b"9900302.00AY1AZ123" + CR)  # also on a message without variable fields
    assert c.reply().raw == b"96AZFEF6"
    c.send_raw(b"97AZFEF" + CR)
    assert c.reply().raw == b"96AZFEF6"


# --- retries ----------------------------------------------------------------------

def _checkout_frame(c, card, barcode):
    return c.frame(f"11NN{RUN_DATE}{' ' * 18}AO{LIB}|AA{card}|AB{barcode}|AC|")


def test_a_retry_after_the_copy_changed_hands_is_answered_afresh(connect, lib):
    c = connect()
    frame = _checkout_frame(c, "P0003", "I0006")
    c.send_raw(frame)
    first = c.reply()
    assert first.fixed[0] == "1"
    # the desk takes the copy back and lends it to someone else before the machine retries
    circulation.checkin(lib, "I0006")
    circulation.checkout(lib, "P0001", "I0006")
    c.send_raw(frame)
    again = c.reply()
    assert again.fixed[0] == "0" and "I0006" in again.f("AF")
    assert open_loans("P0003") == [] and open_loans("P0001") == ["I0006"]


def test_a_retry_after_the_copy_came_back_lends_it_again(connect, lib):
    c = connect()
    frame = _checkout_frame(c, "P0003", "I0006")
    c.send_raw(frame)
    first = c.reply()
    circulation.checkin(lib, "I0006")
    c.send_raw(frame)
    again = c.reply()
    assert again.fixed[0] == "1" and again.f("BK") != first.f("BK")
    assert Loan.get(Loan.returned_at.is_null()).id == again.f("BK")


def test_a_retry_after_a_renewal_at_the_desk_is_answered_afresh(connect, lib):
    """A renewal's event names only its loan: that is enough to see the change."""
    c = connect()
    assert c.checkout(LIB, "P0003", "I0008").fixed[0] == "1"
    loans_fall_due_today(lib)
    frame = c.frame(f"29NN{RUN_DATE}{' ' * 18}AO{LIB}|AAP0003|AD|ABI0008|AC|")
    c.send_raw(frame)
    assert c.reply().fixed[:2] == "1Y"
    loans_fall_due_today(lib)
    circulation.renew(lib, "I0008")  # the second and last renewal, at the desk
    c.send_raw(frame)
    again = c.reply()
    assert again.fixed[0] == "0" and "I0008" in again.f("AF")


def test_a_retry_is_answered_as_before_while_others_work(connect, lib):
    c, other = connect(), connect()
    frame = _checkout_frame(c, "P0003", "I0006")
    c.send_raw(frame)
    first = c.reply()
    assert other.checkout(LIB, "P0001", "I0001").fixed[0] == "1"  # another copy, patron
    c.send_raw(frame)
    assert c.reply().raw == first.raw
    assert open_loans("P0003") == ["I0006"]


def test_a_retry_is_remembered_only_briefly(connect, lib, monkeypatch):
    monkeypatch.setattr(retry, "RETRY_WINDOW", 0.3)
    c = connect()
    frame = _checkout_frame(c, "P0003", "I0006")
    c.send_raw(frame)
    assert c.reply().fixed[0] == "1"
    time.sleep(0.5)
    c.send_raw(frame)
    late = c.reply()
    assert late.fixed[0] == "0" and late.f("AF")  # run again: already on loan to them


def test_without_a_sequence_number_every_line_is_run(connect, lib):
    """The emulator sends one date for the whole run: identical lines are new requests."""
    c = connect(error_detection=False)
    line = f"11NN{RUN_DATE}{' ' * 18}AO{LIB}|AAP0003|ABI0005|AC|"
    assert c.call(line).fixed[0] == "1"
    assert c.call(f"09N{RUN_DATE}{RUN_DATE}AP|AO{LIB}|ABI0005|AC|").fixed[0] == "1"
    assert c.call(line).fixed[0] == "1"
    second = c.call(line)
    assert second.fixed[0] == "0" and second.f("AF")
    assert Loan.select().count() == 2 and open_loans("P0003") == ["I0005"]


def test_two_checkouts_in_one_session_get_their_own_answers(connect, lib):
    c = connect()
    c.seq = 4
    one = c.checkout(LIB, "P0003", "I0002")
    c.seq = 4  # a machine that does not count its sequence numbers up
    two = c.checkout(LIB, "P0003", "I0003")
    assert (one.f("AB"), two.f("AB")) == ("I0002", "I0003")
    assert one.fixed[0] == two.fixed[0] == "1" and one.f("BK") != two.f("BK")
    assert open_loans("P0003") == ["I0002", "I0003"]


# --- many machines at once ------------------------------------------------------------

def test_twenty_machines_connecting_at_once_are_all_let_in(sip):
    """Beyond the listen backlog the kernel drops a connection attempt and the machine
    tries again a second later; twenty at once must all be answered well before that."""
    count, start, took, errors = 20, threading.Barrier(20), [], []

    def machine():
        start.wait()
        t = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", sip.port), timeout=5) as s:
                s.sendall(add_checksum(b"9900302.00AY0AZ") + CR)
                got = b""
                while not got.endswith(CR):
                    got += s.recv(1024)
            took.append(time.monotonic() - t)
            assert got.startswith(b"98")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=machine) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors and len(took) == count
    assert max(took) < 0.9, sorted(round(x, 3) for x in took)


def test_the_listen_backlog_is_raised():
    assert server._TCPServer.request_queue_size >= 20


# --- answers that say what happened ---------------------------------------------------

def test_checkin_of_a_copy_not_on_loan_is_refused_in_vietnamese(connect):
    c = connect()
    r = c.checkin(LIB, "I0009")
    assert r.code == "10" and r.fixed[0] == "0"
    assert r.f("AF") == ("I0009 không có ai mượn nên không cần trả. "
                         "Vui lòng mang tài liệu này đến quầy thủ thư.")


def test_patron_information_without_a_range_lists_every_loan(connect, lib):
    policy.save_rule(lib, LIB, "adult", "*", loan_days=14, max_loans=80, max_renewals=2)
    bib = catalogue.save_bib(lib, {"title": "Tuyển tập", "authors": []})
    bib_id = bib["id"] if isinstance(bib, dict) else bib.id
    for n in range(60):
        catalogue.save_item(lib, {"bib": bib_id, "barcode": f"T{n:03d}"})
        circulation.checkout(lib, "P0003", f"T{n:03d}")
    c = connect()
    info = c.patron_info(LIB, "P0003", summary="  Y       ")
    assert info.fixed[35 + 8:35 + 12] == "0060"
    assert len(info.fields["AU"]) == 60
    ranged = c.call(f"63000{now18()}  Y       AO{LIB}|AAP0003|AC|BP51|BQ55|")
    assert len(ranged.fields["AU"]) == 5 and ranged.fixed[35 + 8:35 + 12] == "0060"
    tail = c.call(f"63000{now18()}  Y       AO{LIB}|AAP0003|AC|BP41|")
    assert len(tail.fields["AU"]) == 20


def test_hold_answer_names_the_title(connect, lib):
    c = connect()
    r = c.hold(LIB, "P0001", "+", item="I0004")
    assert r.code == "16" and r.fixed[0] == "1" and r.f("AJ") == "Dế Mèn phiêu lưu ký"
    bib_id = catalogue.get_item(lib, "I0007").bib_id
    by_record = c.hold(LIB, "P0001", "+", title=bib_id)
    assert by_record.fixed[0] == "1" and by_record.f("AJ") == "Số đỏ"
    cancel = c.hold(LIB, "P0001", "-", item="I0004")
    assert cancel.fixed[0] == "1" and cancel.f("AJ") == "Dế Mèn phiêu lưu ký"


def test_patron_information_gives_contacts_only_with_the_right_pin(connect, lib):
    pid = patrons.find(lib, "P0001").id
    patrons.save(lib, {"id": pid, "email": "dao@example.vn", "phone": "0901234567"})
    c = connect()
    bare = c.patron_info(LIB, "P0001")
    assert bare.f("AE") == "Nguyễn Thị Đào"
    assert "BE" not in bare.fields and "BF" not in bare.fields
    wrong = c.patron_info(LIB, "P0001", pin="9999")
    assert wrong.f("CQ") == "N" and "BE" not in wrong.fields and "BF" not in wrong.fields
    right = c.patron_info(LIB, "P0001", pin="1234")
    assert right.f("CQ") == "Y"
    assert right.f("BE") == "dao@example.vn" and right.f("BF") == "0901234567"
    no_pin_set = c.patron_info(LIB, "P0003", pin="")
    assert "BE" not in no_pin_set.fields
