"""Notices at the desk, on the OPAC account and at the kiosk, through the Flask app:
the due list and where each goes, the mail server's settings (the password never shown
back), texts checked and previewed, slips as PDF, a round sent to a real SMTP server."""

import io

import pytest
from pypdf import PdfReader

from appliance.core.models import NoticeMail
from tests.conftest import csrf_token, staff_login
from tests.notices_world import Inbox, make_world


@pytest.fixture
def world(ctx):
    make_world(ctx)
    return ctx


def test_the_desk_lists_what_is_due_and_where_each_goes(world, client):
    staff_login(client)
    html = client.get("/desk/notices").get_data(as_text=True)
    assert "Cần báo bây giờ (4)" in html
    assert "E-mail cho phụ huynh" in html and "Chỉ in phiếu: không có e-mail" in html
    assert "Chưa bật gửi thông báo qua e-mail" in html
    assert "Lớp 6A (PDF)" in html


def test_only_the_branch_admin_sets_the_mail_server_and_the_password_never_comes_back(
        world, client):
    staff_login(client)
    assert client.get("/desk/notices/settings").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/desk/")})
    token = staff_login(client, "quanly")
    r = client.post("/desk/notices/settings", data={
        "csrf_token": token, "action": "smtp", "enabled": "1", "host": "smtp.example.vn",
        "tls": "starttls", "port": "", "user": "thuvien", "password": "mat-khau-thu-dien-tu",
        "from_address": "thuvien@example.vn"}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "Đã lưu máy chủ thư." in html and "Đã lưu mật khẩu" in html
    assert "mat-khau-thu-dien-tu" not in html and 'value="587"' in html
    r = client.post("/desk/notices/settings", data={
        "csrf_token": token, "action": "smtp", "host": "smtp.example.vn", "tls": "tls9",
        "from_address": "thuvien@example.vn"})
    assert r.status_code == 400 and "Chế độ TLS không rõ: tls9." in r.get_data(as_text=True)


def test_texts_are_checked_previewed_and_saved(world, client):
    token = staff_login(client, "quanly")
    form = {"csrf_token": token, "language": "vi",
            "vi-overdue-subject": "Nhắc trả: {ten_sach}", "vi-overdue-body": "Chào {name}"}
    r = client.post("/desk/notices/settings", data={**form, "action": "texts"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "Chỗ điền không hợp lệ {ten_sach}" in html
    assert "Nhắc trả: {ten_sach}" in html  # what was typed stays to be fixed
    form["vi-overdue-subject"] = "Nhắc trả: {title}"
    r = client.post("/desk/notices/settings", data={**form, "action": "preview",
                                                     "preview_kind": "overdue",
                                                     "preview_lang": "vi"})
    html = r.get_data(as_text=True)
    assert "Nhắc trả: Dế Mèn phiêu lưu ký" in html and "Chào Phạm Gia Huy" in html
    assert 'value="Nhắc trả: {title}"' in html  # typed, previewed, not lost before saving
    r = client.post("/desk/notices/settings", data={**form, "action": "texts"},
                    follow_redirects=True)
    assert "Đã lưu nội dung thông báo." in r.get_data(as_text=True)
    from appliance.core.notices import texts
    assert texts.get("overdue", "vi") == {"subject": "Nhắc trả: {title}", "body": "Chào {name}"}


def test_a_class_slip_is_a_pdf_in_vietnamese(world, client):
    staff_login(client)
    r = client.get("/desk/notices/slips.pdf?class=6A")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages)
    assert "PHIẾU BÁO BẠN ĐỌC" in text and "Phạm Gia Huy" in text and "Lớp 6A" in text
    assert "Nguyễn Văn An" not in text


def test_a_round_from_the_desk_reaches_the_server_and_shows_its_state(world, client):
    box = Inbox().start()
    try:
        box.configure()
        token = staff_login(client)
        r = client.post("/desk/notices/send", data={"csrf_token": token},
                        follow_redirects=True)
        html = r.get_data(as_text=True)
        assert "Mới vào hàng chờ: 3. Đã gửi: 3." in html and len(box.messages) == 3
        assert html.count('class="state-sent"') == 3
        box.refuse = "550 5.1.1 No such mailbox"
        NoticeMail.update(state="failed", error="550 5.1.1 No such mailbox").where(
            NoticeMail.kind == "hold_ready").execute()
        html = client.get("/desk/notices").get_data(as_text=True)
        assert "550 5.1.1 No such mailbox" in html and "Gửi lại" in html
    finally:
        box.stop()


def test_the_opac_account_and_the_kiosk_show_the_patrons_notices(world, client):
    r = client.post("/opac/login", data={"card": "P0001", "pin": "1234",
                                         "csrf_token": csrf_token(client, "/opac/login")})
    assert r.status_code == 302
    html = client.get("/opac/account").get_data(as_text=True)
    assert "Thông báo cho bạn" in html
    assert "«Truyện Kiều» đã có tại Thư viện phường Hòa Hiệp Trung" in html
    assert "«Số đỏ» đã quá hạn trả" in html
    kiosk = client.application.test_client()
    staff_login(kiosk, "kiosk", landing="/kiosk/")
    kiosk.post("/kiosk/identify", data={"card": "P0001",
                                        "csrf_token": csrf_token(kiosk, "/kiosk/")})
    html = kiosk.get("/kiosk/").get_data(as_text=True)
    assert "«Truyện Kiều» đã có tại" in html and "Thông báo cho bạn" in html
