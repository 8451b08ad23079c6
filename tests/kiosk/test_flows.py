"""Kiosk flows through the Flask app on real SQLite: identify, borrow several items,
return, renew, receipt, PIN and lock-out, idle time-out, and what a kiosk may not do."""

import json
import time

from appliance.core import circulation, holds, patrons
from appliance.core.models import Loan
from tests.factories import loans_fall_due_today

from .conftest import csrf, login


def post(client, path, **data):
    data["csrf_token"] = csrf(client)
    return client.post(path, data=data, follow_redirects=True)


def text(r):
    return r.get_data(as_text=True)


def loans(ctx, card):
    return sorted(ln.item.barcode for ln in patrons.open_loans(patrons.find(ctx, card)))


def tags(*barcodes, set_size=1):
    return json.dumps([{"uid": f"E0040000000{i}", "barcode": b, "set_size": set_size,
                        "usage": "item"} for i, b in enumerate(barcodes)])


def test_start_page_is_vietnamese_first(kiosk):
    page = text(kiosk.get("/kiosk/"))
    assert "Chào mừng" in page and 'lang="vi"' in page
    assert "English" in page
    assert "Welcome" in text(kiosk.get("/kiosk/?lang=en"))


def test_identify_borrow_two_by_rfid_and_afi(kiosk, ctx, daemon):
    page = text(post(kiosk, "/kiosk/identify", card="P0001"))
    assert "Nguyễn Văn An" in page and 'data-mode="session"' in page
    page = text(post(kiosk, "/kiosk/checkout", tags=tags("1001", "1002")))
    assert 'data-outcome="ok"' in page
    assert "Truyện Kiều" in page and "Số đỏ" in page and "Hạn trả" in page
    assert loans(ctx, "P0001") == ["1001", "1002"]
    assert daemon.afi() == [("E00400000000", 0xC2), ("E00400000001", 0xC2)]


def test_refusals_say_why(kiosk, ctx, daemon):
    post(kiosk, "/kiosk/identify", card="P0001")
    circulation.checkout(ctx, "P0002", "1003")
    page = text(post(kiosk, "/kiosk/checkout", barcode="1003"))
    assert 'data-outcome="refused"' in page and "1003" in page
    page = text(post(kiosk, "/kiosk/checkout", barcode="1005"))  # reference copy
    assert 'data-outcome="refused"' in page
    one_part = json.dumps([{"uid": "E1", "barcode": "1004", "set_size": 2}])
    page = text(post(kiosk, "/kiosk/checkout", tags=one_part))
    assert "1004" in page and 'data-outcome="refused"' in page  # one part of two on the pad
    assert loans(ctx, "P0001") == []
    assert daemon.afi() == []


def test_a_copy_a_hold_waits_for_is_anyones_until_the_desk_scans_it(kiosk, ctx):
    from appliance.core.models import Hold
    hold = holds.place(ctx, "P0002", ctx.bibs[3].id)  # 1004 stands on the open shelf
    post(kiosk, "/kiosk/identify", card="P0001")
    page = text(post(kiosk, "/kiosk/checkout", barcode="1004"))
    assert 'data-outcome="ok"' in page and loans(ctx, "P0001") == ["1004"]
    assert Hold.get_by_id(hold.id).status == "waiting", "it waits for the copy's return"


def test_limit_and_hold_for_someone_else(kiosk, ctx):
    holds.place(ctx, "P0002", ctx.bibs[3].id)
    circulation.checkin(ctx, "1004", at_desk=True)  # pulled: on the hold shelf for P0002
    post(kiosk, "/kiosk/identify", card="P0001")
    page = text(post(kiosk, "/kiosk/checkout", barcode="1004"))
    assert 'data-outcome="refused"' in page
    page = text(post(kiosk, "/kiosk/checkout", tags=tags("1001", "1002", "1003")))
    assert 'data-outcome="ok"' in page and loans(ctx, "P0001") == ["1001", "1002", "1003"]
    circulation.checkin(ctx, "1001")
    circulation.checkout(ctx, "P0001", "1001")
    page = text(post(kiosk, "/kiosk/checkout", barcode="1002"))
    assert 'data-outcome="refused"' in page


def test_blocked_card_is_told_plainly(kiosk, ctx):
    patrons.block(ctx, "P0002", "Thẻ bị mất")
    page = text(post(kiosk, "/kiosk/identify", card="P0002"))
    assert "Thẻ bị mất" in page
    page = text(post(kiosk, "/kiosk/checkout", barcode="1001"))
    assert 'data-outcome="refused"' in page and "Thẻ bị mất" in page
    assert loans(ctx, "P0002") == []


def test_return_with_hold_message_and_afi_reset(kiosk, ctx, daemon):
    circulation.checkout(ctx, "P0001", "1002")
    holds.place(ctx, "P0002", ctx.bibs[1].id)
    assert 'data-mode="returns"' in text(kiosk.get("/kiosk/returns"))
    page = text(post(kiosk, "/kiosk/checkin", tags=tags("1002")))
    assert "giá giữ sách" in page and 'data-outcome="ok"' in page
    assert loans(ctx, "P0001") == []
    assert daemon.afi() == [("E00400000000", 0x07)]


def test_a_patron_returning_stays_in_return_mode(kiosk, ctx):
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkout(ctx, "P0001", "1002")
    post(kiosk, "/kiosk/identify", card="P0001")
    page = text(post(kiosk, "/kiosk/checkin", barcode="1001"))
    assert 'data-mode="returns"' in page and 'action="/kiosk/checkin"' in page
    assert 'action="/kiosk/checkout"' not in page
    post(kiosk, "/kiosk/checkin", barcode="1001")  # scanned twice: not lent again
    assert loans(ctx, "P0001") == ["1002"]
    assert 'data-mode="session"' in text(kiosk.get("/kiosk/"))  # until they leave it


def test_renew_only_own_loans_and_receipt(kiosk, ctx, daemon):
    circulation.checkout(ctx, "P0002", "1003")
    post(kiosk, "/kiosk/identify", card="P0001")
    post(kiosk, "/kiosk/checkout", barcode="1001")
    page = text(post(kiosk, "/kiosk/renew", barcode="1003"))
    assert 'data-outcome="refused"' in page
    loans_fall_due_today(ctx)
    page = text(post(kiosk, "/kiosk/renew", barcode="1001"))
    assert 'data-outcome="ok"' in page
    assert Loan.get(Loan.returned_at.is_null() & (Loan.patron == patrons.find(ctx, "P0001"))
                    ).renewals == 1
    receipt = text(kiosk.get("/kiosk/receipt"))
    assert "Truyện Kiều" in receipt and "Nguyễn Văn An" in receipt
    page = text(post(kiosk, "/kiosk/print"))
    assert 'data-outcome="ok"' in page
    (path, body), = [c for c in daemon.calls if c[0] == "/print"]
    assert any("Truyện Kiều" in line for line in body["lines"])
    page = text(post(kiosk, "/kiosk/end"))
    assert 'data-mode="start"' in page


def test_missing_daemon_never_blocks_a_loan(kiosk, ctx):
    ctx.settings["devices_url"] = "http://127.0.0.1:9"  # nothing listens there
    post(kiosk, "/kiosk/identify", card="P0001")
    page = text(post(kiosk, "/kiosk/checkout", tags=tags("1001")))
    assert 'data-outcome="ok"' in page and "thủ thư" in page
    assert loans(ctx, "P0001") == ["1001"]
    page = text(post(kiosk, "/kiosk/print"))
    assert "màn hình" in page  # the receipt stays on the screen


def test_pin_required_and_lockout(kiosk, ctx):
    ctx.settings["kiosk_pin_required"] = True
    page = text(post(kiosk, "/kiosk/identify", card="P0001"))
    assert 'data-mode="pin"' in page
    page = text(post(kiosk, "/kiosk/checkout", barcode="1001"))
    assert loans(ctx, "P0001") == []  # no patron yet: nothing is lent
    for _ in range(4):
        page = text(post(kiosk, "/kiosk/pin", pin="0000"))
        assert 'data-mode="pin"' in page and 'data-outcome="refused"' in page
    page = text(post(kiosk, "/kiosk/pin", pin="0000"))
    post(kiosk, "/kiosk/identify", card="P0001")
    page = text(post(kiosk, "/kiosk/pin", pin="1234"))  # right PIN, but locked out now
    assert 'data-mode="session"' not in page and 'data-outcome="refused"' in page


def test_right_pin_identifies(kiosk, ctx):
    ctx.settings["kiosk_pin_required"] = True
    post(kiosk, "/kiosk/identify", card="P0002")
    page = text(post(kiosk, "/kiosk/pin", pin="1234"))
    assert 'data-mode="session"' in page and "Trần Thị Bình" in page


def test_idle_time_out_forgets_the_patron(kiosk, ctx):
    ctx.settings["kiosk_idle_seconds"] = 1
    post(kiosk, "/kiosk/identify", card="P0001")
    with kiosk.session_transaction() as s:
        s["kiosk_seen"] = time.time() - 60
    page = text(kiosk.get("/kiosk/"))
    assert 'data-mode="start"' in page
    post(kiosk, "/kiosk/checkout", barcode="1001")
    assert loans(ctx, "P0001") == []


def test_kiosk_reaches_no_staff_page(kiosk, app):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        roles = getattr(view, "roles", None)
        if roles is None or "kiosk" in roles or "<" in rule.rule or "GET" not in rule.methods:
            continue
        assert kiosk.get(rule.rule).status_code in (401, 403, 302), rule.rule


def test_staff_and_anonymous_cannot_use_the_kiosk(client):
    assert client.get("/kiosk/").status_code == 302
    login(client, "thuthu")
    assert client.get("/kiosk/").status_code == 403


def test_renew_is_not_offered_once_no_renewal_is_left(kiosk, ctx):
    circulation.checkout(ctx, "P0001", "1001")
    post(kiosk, "/kiosk/identify", card="P0001")
    page = text(kiosk.get("/kiosk/"))
    assert 'name="barcode" value="1001"' in page
    page = text(post(kiosk, "/kiosk/renew", barcode="1001"))  # the same day: refused
    assert 'data-outcome="refused"' in page and "không lùi được hạn trả" in page
    for _ in range(2):
        loans_fall_due_today(ctx, "1001")
        assert 'data-outcome="ok"' in text(post(kiosk, "/kiosk/renew", barcode="1001"))
    page = text(kiosk.get("/kiosk/"))
    assert 'name="barcode" value="1001"' not in page and "Hết lượt gia hạn" in page
