"""Notices in real headless Chromium: the branch admin sets the mail server (the password
is not shown back) and edits a text with a preview; the librarian sends the round to a
real SMTP server on loopback and prints a class's slips."""

import io

import pytest
from pypdf import PdfReader

from tests.factories import PASSWORD
from tests.notices_world import Inbox, make_world

pytestmark = pytest.mark.browser


def _login(page, server, username):
    page.goto(f"{server.url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url("**/desk/**")


def test_settings_preview_send_and_a_class_slip(ctx, server, page):
    make_world(ctx)
    box = Inbox().start()
    try:
        _login(page, server, "quanly")
        page.click("nav >> text=Thông báo")
        page.click("text=Máy chủ thư và nội dung")
        page.check("#smtp-form input[name=enabled]")
        page.fill("#host", "127.0.0.1")
        page.select_option("#tls", "none")
        page.fill("#port", str(box.port))
        page.fill("#password", "mat-khau-smtp-rat-dai")
        page.fill("#from_address", "thuvien@example.vn")
        page.click("#smtp-form button[type=submit]")
        page.wait_for_selector("text=Đã lưu máy chủ thư.")
        assert page.input_value("#password") == ""
        assert "mat-khau-smtp-rat-dai" not in page.content()
        page.wait_for_selector("#password-stored")

        page.fill("#vi-hold_ready-subject", "Mời nhận sách: {title}")
        page.select_option("#preview_kind", "hold_ready")
        page.click("#texts-form button[value=preview]")
        assert page.inner_text("#preview strong") == "Mời nhận sách: Dế Mèn phiêu lưu ký"
        page.click("#texts-form button[value=texts]")
        page.wait_for_selector("text=Đã lưu nội dung thông báo.")

        page.goto(f"{server.url}/desk/notices")
        page.click("text=Đưa vào hàng chờ và gửi ngay")
        page.wait_for_selector("text=Mới vào hàng chờ: 3. Đã gửi: 3.")
        assert page.locator("#queue tr.state-sent").count() == 3
        subjects = [m["Subject"] for m in box.messages]
        assert "Mời nhận sách: Truyện Kiều" in subjects, subjects

        href = page.get_attribute("a.slips-class", "href")
        pdf = page.request.get(f"{server.url}{href}")
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
        assert "Lớp 6A" in text and "Phạm Gia Huy" in text and "Nguyễn Văn An" not in text
        page.screenshot(path=str(server.shots / "notices.png"))
    finally:
        box.stop()
