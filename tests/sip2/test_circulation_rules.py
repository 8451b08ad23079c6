"""The circulation rules at a self-check machine, through the spec-based client: a renewal
that would not move the due date, cards blocked by overdue copies, and another library's
copy returned here."""

from datetime import timedelta

import pytest

from appliance.core import catalogue, circulation, datadir, events, holds, policy
from appliance.core.models import Event, Item, Loan
from sync.receive import TOWN_WIDE
from tests.factories import loans_fall_due_today

from .conftest import LIB

OTHER = "PY-DH02"


def test_a_renewal_that_would_not_move_the_due_date_is_refused(connect):
    c = connect()
    assert c.checkout(LIB, "P0003", "I0001").fixed[0] == "1"
    r = c.renew(LIB, "P0003", "I0001")
    assert r.code == "30" and r.fixed[0] == "0"
    assert "gia hạn lúc này không lùi được hạn trả" in r.f("AF")
    assert Loan.get(Loan.returned_at.is_null()).renewals == 0


def test_the_renewal_limit_counts_only_renewals_that_moved_the_date(connect, lib):
    c = connect()
    c.checkout(LIB, "P0003", "I0001")
    for _ in range(2):
        c.renew(LIB, "P0003", "I0001")  # the same day: refused, nothing counted
    for _ in range(2):
        loans_fall_due_today(lib)
        assert c.renew(LIB, "P0003", "I0001").fixed[:2] == "1Y"
    loans_fall_due_today(lib)
    last = c.renew(LIB, "P0003", "I0001")
    assert last.fixed[0] == "0" and "I0001" in last.f("AF")  # the limit: two
    assert Loan.get(Loan.returned_at.is_null()).renewals == 2


def test_a_card_with_a_copy_long_overdue_is_blocked_with_the_reason(connect, lib):
    policy.save_rule(lib, LIB, "*", "*", loan_days=14, max_loans=5, max_renewals=2,
                     block_overdue_days=10)
    c = connect()
    assert c.checkout(LIB, "P0003", "I0001").fixed[0] == "1"
    assert c.patron_status(LIB, "P0003").fixed[:4] == "    "
    Loan.update(due_date=(lib.clock.today() - timedelta(days=11)).isoformat()).where(
        Loan.returned_at.is_null()).execute()
    status = c.patron_status(LIB, "P0003")
    assert status.fixed[:4] == "YYYY", "charge, renewal, recall and hold privileges denied"
    assert status.fixed[6] == "Y", "too many items overdue"
    reason = "Có sách đã quá hạn 11 ngày (mức tối đa là 10 ngày)"
    assert any(reason in line for line in status.fields["AF"])
    refused = c.checkout(LIB, "P0003", "I0002")
    assert refused.fixed[0] == "0" and reason in refused.f("AF")
    assert c.checkin(LIB, "I0001").fixed[0] == "1"
    assert c.patron_status(LIB, "P0003").fixed[:4] == "    ", "lifted once it is back"
    assert c.checkout(LIB, "P0003", "I0002").fixed[0] == "1"


@pytest.fixture
def other_copy(tmp_path):
    """A copy of library PY-DH02, as its town-wide records reach this branch: opened
    before this library's folder, whose database the server then uses."""
    other = datadir.init(tmp_path / "other", OTHER, "Thư viện phường Hòa Vinh")
    bib = catalogue.save_bib(other, {"title": "Đất rừng phương Nam", "authors": ["Đoàn Giỏi"]})
    catalogue.save_item(other, {"bib": bib.id, "barcode": "X0001", "location": "Kho mở"})
    held = [events.to_dict(e) for e in Event.select().where(Event.origin == other.origin)
            .order_by(Event.seq) if e.kind in TOWN_WIDE]
    other.close()
    return held


def test_another_librarys_copy_is_taken_back_and_sent_home(other_copy, connect, lib):
    events.ingest(lib, other_copy, relayed=True)
    c = connect()
    r = c.checkin(LIB, "X0001")
    assert r.code == "10" and r.fixed[0] == "1", r
    assert r.fixed[3] == "Y", "alert: it does not go back on this library's shelf"
    assert r.f("CL") == OTHER and r.f("CT") == OTHER and r.f("CV") == "04"
    assert r.f("AJ") == "Đất rừng phương Nam"
    assert "Thư viện phường Hòa Vinh" in r.f("AF") and "để lại ở quầy" in r.f("AF")
    ret = Event.get(Event.kind == "loan.in")
    assert ret.library == OTHER, "routed to the copy's library"
    assert Item.get(Item.barcode == "X0001").status == "in_transit"
    again = c.checkin(LIB, "X0001")
    assert again.fixed[0] == "0" and again.f("CT") == OTHER, "taken once"
    assert Event.select().where(Event.kind == "loan.in").count() == 1


def test_another_librarys_copy_lent_here_for_a_hold_is_renewed_here(other_copy, connect, lib):
    """A hold here on a record only PY-DH02 has: its copy arrives (one scan), is lent here
    to the hold's patron, and the self-check machine renews it as a loan of this library."""
    events.ingest(lib, other_copy, relayed=True)
    bib_id = Item.get(Item.barcode == "X0001").bib_id
    assert holds.place(lib, "P0003", bib_id).source == OTHER
    assert circulation.checkin(lib, "X0001", at_desk=True)["arrived"] == OTHER
    lent = circulation.checkout(lib, "P0003", "X0001")
    assert Loan.get_by_id(lent["loan_id"]).pickup == LIB
    Loan.update(due_date=lib.clock.today().isoformat()).where(
        Loan.id == lent["loan_id"]).execute()  # days later (the renewal puts the log right)
    r = connect().renew(LIB, "P0003", "X0001")
    assert r.fixed[:2] == "1Y", r
    assert r.f("AJ") == "Đất rừng phương Nam"
    assert Loan.get_by_id(lent["loan_id"]).renewals == 1
    assert Event.select().where(Event.kind == "loan.renew").get().library == OTHER
