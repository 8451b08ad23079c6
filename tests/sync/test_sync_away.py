"""A town-wide card away from home, with a real hub on loopback (SQLite and PostgreSQL).

Branch A holds library B's cards without their PINs or their loans at B. With the link
up, A's kiosk, SIP2 terminal and desk ask the hub: it checks the PIN (a wrong one is
refused, counted at the hub) and says how many loans the card holds elsewhere, so the
loan rule counts the whole town. With the hub gone, the card alone lends under the
lower `policies.away_offline_max_loans` limit, and the desk, the kiosk and the SIP2
screen say why, in Vietnamese.
"""

import time

import pytest

from appliance.core import circulation, patrons, townwide, users
from appliance.core.errors import Forbidden, Refused
from appliance.core.models import Loan, Patron
from appliance.sip2.server import serve_in_thread
from appliance.web import create_app
from sync import agent, cardcheck, keys, protocol
from tests.sip2.client import SipClient
from tests.sync.syncsupport import init, opened, running_town, seed, set_settings

A, B = "PY-DH01", "PY-DH02"
OFFLINE_VI = "không kết nối được với máy chủ của thị xã"


@pytest.fixture
def town(tmp_path, hub_db):
    with running_town(tmp_path, (A, B), hub_db, admin=None) as town:
        town.a, town.b = town.branches[A], town.branches[B]
        with opened(town.b) as ctx:
            _, codes_b = seed(ctx, n_items=2, n_patrons=0, prefix="B")
            patrons.save(ctx, {"card": "B-0001", "name": "Nguyễn Thị Lan", "category": "adult",
                               "pin": "4321", "phone": "0905111222"})
            patrons.save(ctx, {"card": "B-0002", "name": "Trần Minh", "category": "adult",
                               "pin": "5678"})
            for code in codes_b:  # two loans at home, which A never sees
                circulation.checkout(ctx, "B-0001", code)
            agent.run_once(ctx)
        with opened(town.a) as ctx:
            _, town.codes = seed(ctx, n_items=8, n_patrons=0, prefix="A")
            users.create(ctx, "thuthu", "mat-khau-thu-vien", "librarian")
            users.create(ctx, "kiosk", "mat-khau-kiosk", "kiosk")
            agent.run_once(ctx)
            assert Patron.get(Patron.card == "B-0001").pin_hash is None, "no PIN hash at A"
        yield town


def test_online_the_hub_checks_the_pin_and_counts_the_loans_elsewhere(town):
    with opened(town.a) as ctx:
        with pytest.raises(Forbidden) as wrong:
            townwide.sign_in(ctx, "B-0001", "0000")
        assert wrong.value.code == "pin_wrong"
        lan, verdict = townwide.sign_in(ctx, "B-0001", "4321")
        assert verdict["verified"] and verdict["elsewhere"] == 2
        assert verdict["patron"]["name"] == "Nguyễn Thị Lan" and "phone" not in verdict["patron"]
        for code in town.codes[:3]:  # the rule's 5: two at B, three here
            circulation.checkout(ctx, "B-0001", code, town=verdict)
        with pytest.raises(Refused) as limit:
            circulation.checkout(ctx, "B-0001", town.codes[3], town=verdict)
        assert limit.value.code == "loan_limit"
        with pytest.raises(Refused) as asked:  # the desk gives no verdict: checkout asks
            circulation.checkout(ctx, "B-0001", town.codes[3])
        assert asked.value.code == "loan_limit"
        assert Loan.select().where(Loan.patron == lan.id).count() == 3, "A sees its own only"
        agent.run_once(ctx)
    with opened(town.hub_dir):
        lan_at_hub = Patron.get((Patron.card == "B-0001") & (Patron.library == B))
        assert Loan.select().where((Loan.patron == lan_at_hub.id)
                                   & Loan.returned_at.is_null()).count() == 5
    with opened(town.b) as ctx:  # the wrong PIN was counted where the card lives
        patrons.verify_pin(ctx, "B-0001", "4321")


def test_a_practice_copy_never_asks_the_hub_about_a_card(town):
    """Practice (core/training) sends nothing: the hub would answer with a real card's
    details and count the trainee's PIN against it. The card is lent on its own."""
    from appliance.core.training import practice
    with opened(town.a) as ctx:
        copy = practice.open_copy(ctx, "thuthu")
        try:
            with practice.bound(copy.db):
                _lan, verdict = townwide.sign_in(copy, "B-0001", "0000")  # a wrong PIN
        finally:
            copy.db.close()
        assert verdict == {"verified": False}
        real = townwide.sign_in(ctx, "B-0001", "4321")[1]  # the real desk still asks
        assert real["verified"] and real["elsewhere"] == 2


def test_online_the_kiosk_and_sip2_sign_in_through_the_hub(town):
    set_settings(town.a, kiosk_pin_required=True)
    with opened(town.a) as ctx:
        client = _client(ctx, "kiosk", "kiosk")
        client.post("/kiosk/identify", data={"card": "B-0002", "csrf_token": "t"})
        page = client.post("/kiosk/pin", data={"pin": "9999", "csrf_token": "t"},
                           follow_redirects=True).text
        assert "PIN" in page and "Xin chào" not in page
        page = client.post("/kiosk/pin", data={"pin": "5678", "csrf_token": "t"},
                           follow_redirects=True).text
        assert "Xin chào, Trần Minh!" in page and OFFLINE_VI not in page
        page = client.post("/kiosk/checkout", data={"barcode": town.codes[0], "csrf_token": "t"},
                           follow_redirects=True).text
        assert "Hạn trả" in page
        with _sip(ctx) as sip:
            status = sip.patron_status(A, "B-0002", pin="5678")
            assert status.f("CQ") == "Y" and OFFLINE_VI not in (status.f("AF") or "")
            assert sip.patron_status(A, "B-0002", pin="1111").f("CQ") == "N"
            out = sip.checkout(A, "B-0002", town.codes[1], pin="5678")
            assert out.fixed.startswith("1"), out


def test_offline_the_card_alone_lends_under_the_lower_limit_and_says_why(town):
    set_settings(town.a, policies={"away_offline_max_loans": 1},
                 kiosk_pin_required=False)  # the kiosk takes the card alone here
    town.hub.stop()
    with opened(town.a) as ctx:
        lan, verdict = townwide.sign_in(ctx, "B-0001", "any PIN")  # cannot be checked
        assert verdict == {"verified": False}
        started = time.monotonic()
        circulation.checkout(ctx, "B-0002", town.codes[0])  # the desk, no verdict
        assert time.monotonic() - started < 5, "a hub that is gone costs no wait"
        with pytest.raises(Refused) as limit:
            circulation.checkout(ctx, "B-0002", town.codes[1])
        assert limit.value.code == "away_offline_limit"
        assert limit.value.params == {"library": B, "count": 1}

        desk = _client(ctx, "thuthu", "librarian")
        page = desk.post("/desk/checkout", data={"card": "B-0002", "barcode": town.codes[1],
                                                 "csrf_token": "t"}, follow_redirects=True).text
        assert f"Thẻ này thuộc thư viện {B}" in page and OFFLINE_VI in page
        assert "tối đa 1 cuốn" in page

        kiosk = _client(ctx, "kiosk", "kiosk")
        page = kiosk.post("/kiosk/identify", data={"card": "B-0001", "csrf_token": "t"},
                          follow_redirects=True).text
        assert "Xin chào, Nguyễn Thị Lan!" in page and OFFLINE_VI in page
        page = kiosk.post("/kiosk/checkout", data={"barcode": town.codes[2], "csrf_token": "t"},
                          follow_redirects=True).text
        assert "Hạn trả" in page
        page = kiosk.post("/kiosk/checkout", data={"barcode": town.codes[3], "csrf_token": "t"},
                          follow_redirects=True).text
        assert "tối đa 1 cuốn" in page

        with _sip(ctx) as sip:
            status = sip.patron_status(A, "B-0002", pin="0000")
            assert any(OFFLINE_VI in line for line in status.fields.get("AF", [])), status
            assert status.f("CQ") is None, "a PIN that could not be checked is not called valid"
            out = sip.checkout(A, "B-0002", town.codes[4])
            assert out.fixed.startswith("0") and "tối đa 1 cuốn" in out.f("AF")
    assert all(t > 0 for t in cardcheck._failed.values()), "the failure was remembered"


def test_the_hub_refuses_a_device_it_does_not_know(town, tmp_path):
    with opened(town.a) as ctx:
        good = cardcheck._exchange(ctx, protocol.hub_peer(ctx.settings),
                                   town.hub.url + cardcheck.PATH,
                                   {"card": "B-0001", "library": B, "pin": None})
        assert good["ok"] and good["elsewhere"] == 2
        hub = protocol.hub_peer(ctx.settings)
    stranger_dir = tmp_path / "stranger"
    init(stranger_dir, A)
    set_settings(stranger_dir, sync={"hub_id": hub.id, "hub_sign_key": hub.sign_key,
                                     "hub_box_key": hub.box_key, "hub_url": town.hub.url})
    with opened(stranger_dir) as ctx:
        keys.load_or_create(ctx.data_dir)  # keys of its own, never enrolled
        with pytest.raises(townwide.Unreachable, match="unknown_device|HTTP 403"):
            cardcheck._exchange(ctx, hub, town.hub.url + cardcheck.PATH,
                                {"card": "B-0001", "library": B, "pin": "4321"})


def _client(ctx, user, role):
    client = create_app(ctx, testing=True).test_client()
    with client.session_transaction() as s:
        s.update(user=user, role=role, csrf="t", login_at=time.time(), lang="vi",
                 sid=users.open_login(user, "session", 3600))  # a login the database holds
    return client


class _sip:
    def __init__(self, ctx):
        self.ctx = ctx

    def __enter__(self):
        self.handle = serve_in_thread(self.ctx, "127.0.0.1", 0, idle_timeout=5)
        self.client = SipClient("127.0.0.1", self.handle.port)
        assert self.client.login("kiosk", "mat-khau-kiosk").fixed == "1"
        return self.client

    def __exit__(self, *exc):
        self.client.close()
        self.handle.shutdown()

