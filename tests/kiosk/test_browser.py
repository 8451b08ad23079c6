"""A kiosk session in real Chromium: a patron card on the RFID pad, two books laid on
the pad together, the receipt, and the idle time-out back to the start. Device events
arrive exactly as the devices daemon sends them (POST /api/v1/device-events)."""

import pytest
import requests

from appliance.core import patrons
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def device_event(server, ctx, body):
    tok = (ctx.data_dir / "device-token").read_text().strip()
    r = requests.post(f"{server.url}/api/v1/device-events", json=body, timeout=5,
                      headers={"X-Thuvien-Device-Token": tok})
    assert r.status_code == 202 and r.json()["listeners"] >= 1


def rfid(*tags):
    return {"source": "rfid:pad", "type": "rfid", "action": "present",
            "data": {"tags": [{"uid": uid, "barcode": code, "owner": "VN-PY-DH01",
                               "set_index": 1, "set_size": 1, "afi": 7, "usage": usage}
                              for uid, code, usage in tags]}}


def test_kiosk_session_in_chromium(server, ctx, daemon, browser, tmp_path):
    ctx.settings.update(kiosk_idle_seconds=6, event_heartbeat_seconds=0.5)
    page = browser
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", "kiosk")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#kiosk[data-mode=start]")
    assert "Chào mừng" in page.inner_text("h1")
    page.wait_for_selector("body[data-events=open]")

    device_event(server, ctx, rfid(("E0040100AAAA0001", "P0001", "patron")))
    page.wait_for_selector("#kiosk[data-mode=session]")
    assert "Nguyễn Văn An" in page.inner_text("h1")

    device_event(server, ctx, rfid(("E0040100BBBB0001", "1001", "item"),
                                   ("E0040100BBBB0002", "1002", "item")))
    page.wait_for_selector("#kiosk[data-outcome=ok] .result.ok[data-barcode='1002']")
    assert page.locator(".result.ok").count() == 2
    assert page.locator("table.loans tbody tr").count() == 2
    assert page.evaluate("window.kioskLastOutcome") == "ok"
    assert sorted(ln.item.barcode for ln in patrons.open_loans(patrons.find(ctx, "P0001"))) \
        == ["1001", "1002"]
    assert daemon.afi() == [("E0040100BBBB0001", 0xC2), ("E0040100BBBB0002", 0xC2)]
    page.screenshot(path=str(tmp_path / "kiosk-session.png"), full_page=True)

    page.click("a.finish")
    page.wait_for_selector("#kiosk[data-mode=receipt]")
    receipt = page.inner_text("#receipt")
    assert "Truyện Kiều" in receipt and "Số đỏ" in receipt and "Nguyễn Văn An" in receipt
    page.click("text=In biên lai")
    page.wait_for_selector(".result.ok")
    assert [p for p, _ in daemon.calls if p == "/print"] == ["/print"]

    # nobody touches the screen: after the idle time-out the kiosk is back at the start
    page.wait_for_selector("#kiosk[data-mode=start]", timeout=15000)
    assert "Chào mừng" in page.inner_text("h1")
    page.reload()
    page.wait_for_selector("#kiosk[data-mode=start]")


def test_a_kiosk_used_during_an_update_shows_the_notice_then_comes_back(app, browser):
    """The web service stops for an update's migration and the update's notice answers on
    its port: a card typed at the kiosk then shows the notice (in Vietnamese) on the
    kiosk's own page, not an error nor the form's address, and the kiosk comes back by
    itself once the web service answers again."""
    from provisioning import notice
    from tests.conftest import Server

    page = browser
    with Server(app) as first:
        port = int(first.port)
        page.goto(f"{first.url}/login")
        page.fill("input[name=username]", "kiosk")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#kiosk[data-mode=start]")
        kiosk_url = page.url
    stop = notice.answer(("127.0.0.1", port))
    try:
        page.fill("#card", "P0001")
        page.click("button.go")
        page.wait_for_selector("text=Hệ thống thư viện đang được cập nhật")
        assert page.url == kiosk_url
    finally:
        stop()
    with Server(app, port=port):
        page.wait_for_selector("#kiosk[data-mode=start]", timeout=30000)  # reloaded itself
        assert page.url == kiosk_url
