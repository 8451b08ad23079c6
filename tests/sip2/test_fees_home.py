"""SIP2 at a patron's home library A, for a patron who owes A and also owes library B,
whose fee reached A by real sync through a hub process (SQLite and PostgreSQL), with the
client written from the specification on a real server on loopback.

The patron status (24) and information (64) count B's fee in what is owed (BV) and
against A's fee limit, as A's desk does, and say where it is paid. 37 Fee Paid "all the
card's fees" pays A's own only and says B's part is paid at B; 37 naming B's fee is
refused with the desk's words; B's fee stays open at A either way (docs/sip2.md)."""

from types import SimpleNamespace

import pytest

from appliance.core import circulation, users
from appliance.core.fees import commands as fees
from appliance.core.models import Event, Fee
from appliance.core.verify import verify
from appliance.sip2.server import serve_in_thread
from sync import agent
from tests.conftest import PASSWORD
from tests.sync.syncsupport import (  # noqa: F401  (hub_db: the fixture)
    hub_db_fixture,
    opened,
    running_town,
    seed,
)
from tests.sync.test_sync_fees_home import PAY_AT_B, _charged_at_b, _desk, _rule

from .client import SipClient
from .conftest import KIOSK_PASSWORD, KIOSK_USER

A, B = "PY-DH01", "PY-DH02"
BLOCKED = ("Bạn đọc còn nợ 170.000 ₫ tiền phí chưa nộp (mức tối đa là 100.000 ₫), trong "
           "đó 120.000 ₫ phải nộp tại Thư viện PY-DH02: không cho mượn thêm cho đến khi "
           "trả hết.")
AT_B = ("Trong số tiền còn nợ, 120.000 ₫ phải nộp tại Thư viện PY-DH02 (nơi đã tính phí), "
        "không nộp tại máy này được.")


@pytest.fixture
def home(tmp_path, hub_db):
    """A's patron owes A 50.000 ₫ (a copy of A lost) and B 120.000 ₫ (B's charge, synced
    to A); A's limit is 100.000 ₫. Yields A's data, its SIP2 client logged in, the card,
    both fee ids and the copies."""
    with running_town(tmp_path, (A, B), hub_db=hub_db, admin=None) as town:
        with opened(town.branches[A]) as a:
            _rule(a, replacement_fee=50000, fee_limit=100000)
            cards, mine = seed(a, n_items=2, n_patrons=1)
            users.create(a, KIOSK_USER, KIOSK_PASSWORD, "kiosk")
            users.create(a, "thuthu", PASSWORD, "librarian")
            circulation.checkout(a, cards[0], mine[0])
            own = fees.declare(a, mine[0], "lost", actor="thuthu").id
            agent.run_once(a)
        theirs, _bs_own, copy = _charged_at_b(town.branches, cards[0])
        with opened(town.branches[A]) as a:
            agent.run_once(a)
            assert Fee.get_by_id(theirs).library == B, "B's fee reached A"
            a.settings["kiosk_pin_required"] = False
            server = serve_in_thread(a, "127.0.0.1", 0, idle_timeout=5)
            sip = SipClient("127.0.0.1", server.port)
            try:
                assert sip.login(KIOSK_USER, KIOSK_PASSWORD).fixed == "1"
                yield SimpleNamespace(ctx=a, sip=sip, card=cards[0], own=own, theirs=theirs,
                                      mine=mine[0], copy=copy)
            finally:
                sip.close()
                server.shutdown()


def _state(fee_id):
    fee = Fee.get_by_id(fee_id)
    return fee.state, fee.settled_by


def _paid_at_a(fee_id):
    """fee.paid events recorded for the fee (none may be, for B's fee, at A)."""
    return Event.select().where((Event.kind == "fee.paid")
                                & Event.body.contains(fee_id)).count()


def test_status_and_information_at_home_count_bs_fee_as_the_desk_does(home):
    sip, card = home.sip, home.card
    status = sip.patron_status(A, card)
    assert status.f("BV") == "170000" and status.f("BH") == "VND"
    assert status.fixed[11] == "Y" and status.fixed[0] == "Y"  # over A's limit
    assert status.fields["AF"] == [BLOCKED]
    info = sip.patron_info(A, card, summary="   Y      ")
    assert info.f("BV") == "170000" and info.f("CC") == "100000"
    assert info.fixed[11] == "Y" and info.fixed[35 + 12:35 + 16] == "0002"  # fine items
    assert sorted(info.fields["AV"]) == sorted([f"{home.own} 50000 {home.mine}",
                                                f"{home.theirs} 120000 {home.copy}"])
    assert info.fields["AF"] == [BLOCKED]
    client, _token = _desk(home.ctx)
    page = client.get(f"/desk/patrons/{card}").get_data(as_text=True)
    assert "Còn nợ 170.000 ₫" in page and BLOCKED in page, "the desk says the same"
    english = sip.patron_status(A, card, lang="001").f("AF")
    assert "120.000 ₫ of it to be paid at Thư viện PY-DH02" in english

    # under a higher limit nothing is blocked, but the machine still says where B's is paid
    _rule(home.ctx, replacement_fee=50000, fee_limit=500000)
    for answer in (sip.patron_status(A, card), sip.patron_info(A, card)):
        assert answer.f("BV") == "170000" and answer.fixed[11] == " "
        assert answer.fields["AF"] == [AT_B]
    english = sip.patron_info(A, card, lang="001").fields["AF"]
    assert english == ["Of what is owed, 120.000 ₫ is paid at Thư viện PY-DH02, which "
                       "charged it, not at this machine."]


def test_pay_all_at_home_pays_only_its_own_fees_and_says_where_the_rest_is_paid(home):
    sip, card = home.sip, home.card
    everything = sip.fee_paid(A, card, "170000")  # the BV the machine was told
    assert everything.fixed[0] == "N"
    assert everything.f("AF") == ("170.000 ₫ nhiều hơn số còn nợ: số dư là 50.000 ₫. "
                                  + AT_B)
    assert _state(home.own) == ("open", None) and _state(home.theirs) == ("open", None)

    paid = sip.fee_paid(A, card, "50000")
    assert paid.fixed[0] == "Y" and paid.f("AF") == "Đã nhận 50.000 ₫. Cảm ơn bạn. " + AT_B
    assert _state(home.own) == ("paid", KIOSK_USER)
    assert _state(home.theirs) == ("open", None) and _paid_at_a(home.theirs) == 0
    after = sip.patron_status(A, card)
    assert after.f("BV") == "120000" and after.fixed[11] == "Y", "still over A's limit"

    again = sip.fee_paid(A, card, "120000")
    assert again.fixed[0] == "N"
    assert again.f("AF") == "Bạn đọc không nợ khoản phí nào ở đây. " + AT_B
    assert _state(home.theirs) == ("open", None) and _paid_at_a(home.theirs) == 0
    assert verify(home.ctx) == []


def test_paying_bs_fee_by_its_id_at_home_is_refused_and_changes_nothing(home):
    sip, card = home.sip, home.card
    events = Event.select().count()
    refused = sip.fee_paid(A, card, "120000", fee_id=home.theirs)
    assert refused.code == "38" and refused.fixed[0] == "N"
    assert refused.fields["AF"] == [PAY_AT_B]  # the desk's words, naming B
    assert _state(home.theirs) == ("open", None) and Event.select().count() == events
    assert sip.patron_status(A, card).f("BV") == "170000"
    assert _state(home.own) == ("open", None)
