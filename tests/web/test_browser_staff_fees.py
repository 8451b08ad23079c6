"""A branch admin and a librarian in real headless Chromium: add a staff member and
reset their password on the Staff accounts page; declare a lent copy lost, take the
payment and open the receipt."""

from appliance.core import policy
from tests.factories import PASSWORD

NEW_STAFF, FIRST, SECOND = "thuthu2", "Sách-hay-mỗi-ngày-1", "Thư-viện-phường-2026"


def _login(page, url, username, password):
    page.context.clear_cookies()
    page.goto(f"{url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.press("#password", "Enter")


def test_an_admin_adds_a_librarian_and_resets_the_password(server, page):
    _login(page, server.url, "quanly", PASSWORD)
    page.wait_for_url("**/desk/")
    page.click("text=Tài khoản nhân viên")
    page.wait_for_url("**/desk/staff")
    assert page.locator("html").get_attribute("lang") == "vi"
    page.fill("#username", NEW_STAFF)
    page.fill("#password", FIRST)
    page.select_option("#role", "librarian")
    page.click("#add-account button[type=submit]")
    page.wait_for_selector(f"#account-{NEW_STAFF}")
    assert f"Đã thêm tài khoản {NEW_STAFF}." in page.inner_text(".flash.success")
    assert "Thủ thư" in page.inner_text(f"#account-{NEW_STAFF}")
    row = page.locator(f"#account-{NEW_STAFF}")
    row.locator("input[name=password]").fill(SECOND)
    row.locator("text=Đặt lại mật khẩu").click()
    page.wait_for_selector(".flash.success")
    assert "Đã đặt mật khẩu mới cho thuthu2" in page.inner_text(".flash.success")
    log = page.inner_text("#account-log")
    assert "thêm tài khoản" in log and "đặt lại mật khẩu" in log and "quanly" in log
    page.screenshot(path=str(server.shots / "desk-staff.png"))
    _login(page, server.url, NEW_STAFF, FIRST)  # the old password no longer opens
    page.wait_for_selector(".flash.error")
    assert "/login" in page.url
    _login(page, server.url, NEW_STAFF, SECOND)
    page.wait_for_url("**/desk/")
    assert page.locator("text=Tài khoản nhân viên").count() == 0  # a librarian's menu


def test_a_librarian_charges_a_lost_copy_and_prints_the_receipt(server, page, ctx):
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     replacement_fee=85000, fee_limit=0)
    _login(page, server.url, "thuthu", PASSWORD)
    page.wait_for_url("**/desk/")
    page.fill("#card", "P0001")
    page.press("#card", "Enter")
    page.wait_for_url("**/desk/patrons/P0001")
    page.fill("#barcode", "1001")
    page.press("#barcode", "Enter")
    page.wait_for_selector("#declare")
    page.select_option("#declare select[name=kind]", "lost")
    page.click("#declare button[type=submit]")
    page.wait_for_selector("#fees")
    assert "Đã tính 85.000 ₫" in page.inner_text(".flash.success")
    assert "Còn nợ 85.000 ₫" in page.inner_text("#owed")
    page.fill("#barcode", "1002")  # owing more than the limit: no new loan
    page.press("#barcode", "Enter")
    page.wait_for_selector(".flash.error")
    assert "Bạn đọc còn nợ 85.000 ₫" in page.inner_text(".flash.error")
    page.click("#fees >> text=Đã thu tiền")
    page.wait_for_selector("#fees .receipt")
    assert "Không nợ gì." in page.inner_text("#owed")
    receipt = page.request.get(server.url + page.get_attribute("#fees .receipt", "href"))
    assert receipt.ok and receipt.headers["content-type"] == "application/pdf"
    assert receipt.body().startswith(b"%PDF")
    page.screenshot(path=str(server.shots / "desk-fees.png"))
