"""In real headless Chromium: a patron on a 360 px phone asks for a copy of pages from a
record's page, accepting the copyright note; staff at the desk accept it and attach the
scanned PDF; the patron downloads it from their account."""

import pytest

from appliance.core.models import RemoteRequest
from tests.factories import PASSWORD
from tests.requests.conftest import make_pdf

pytestmark = pytest.mark.browser


def _fits(page, width):
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll}px wide on a {width}px screen"


def test_a_patron_asks_on_a_phone_and_staff_accept_and_send(ctx, server, chromium, tmp_path):
    phone_ctx = chromium.new_context(locale="vi-VN", viewport={"width": 360, "height": 740},
                                     accept_downloads=True)
    desk_ctx = chromium.new_context(locale="vi-VN", viewport={"width": 1024, "height": 800})
    try:
        phone = phone_ctx.new_page()
        phone.set_default_timeout(15000)
        phone.goto(f"{server.url}/opac/login")
        phone.fill("input[name=card]", "P0001")
        phone.fill("input[name=pin]", "1234")
        phone.press("input[name=pin]", "Enter")
        phone.wait_for_url("**/opac/account")
        phone.goto(f"{server.url}/opac/record/{ctx.bibs[3].id}")
        phone.click("#rq-copy")
        phone.wait_for_selector("#copyright-note")
        _fits(phone, 360)
        phone.fill("#pages", "3-5")
        phone.fill("#purpose", "Tìm hiểu lịch sử địa phương")
        phone.check("#copyright")
        phone.click("#ask-send")
        phone.wait_for_selector("#requests li[data-state=requested]")
        assert "đang chờ" in phone.inner_text("#requests")
        _fits(phone, 360)
        phone.screenshot(path=str(tmp_path / "phone-requests.png"))

        desk = desk_ctx.new_page()
        desk.set_default_timeout(15000)
        desk.goto(f"{server.url}/login")
        desk.fill("#username", "thuthu")
        desk.fill("#password", PASSWORD)
        desk.press("#password", "Enter")
        desk.wait_for_url("**/desk/**")
        desk.click("text=Yêu cầu từ xa")
        desk.click("#queue a")
        desk.click("#rq-accept")
        desk.wait_for_selector("#rq-attach")
        pdf = tmp_path / "ban-quet.pdf"
        pdf.write_bytes(make_pdf(3))
        desk.set_input_files("#pdf", str(pdf))
        desk.click("#rq-attach")
        desk.wait_for_selector("#rq-state:has-text('sẵn sàng tải về')")
        assert RemoteRequest.get().state == "ready"

        phone.reload()
        with phone.expect_download() as download:
            phone.click(".rq-download")
        assert download.value.path().read_bytes().startswith(b"%PDF-")
        phone.reload()
        phone.wait_for_selector("#requests li[data-state=delivered]")
    finally:
        phone_ctx.close()
        desk_ctx.close()
