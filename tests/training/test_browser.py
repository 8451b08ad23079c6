"""Practice mode in real headless Chromium: enter it from the training page, see the
red band on every page, lend a book to a made-up patron, leave; the real library has no
loan and its digest is what it was."""

import pytest

from appliance.core import verify
from appliance.core.models import Loan
from appliance.core.training import records
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser
BANNER = "THỰC HÀNH — không phải dữ liệu thật"


def test_enter_practice_lend_and_leave(ctx, server, page):
    records.list_staff(ctx)  # the staff list is current: the training page records nothing
    real = verify.digest()
    page.goto(f"{server.url}/login")
    page.fill("#username", "thuthu")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url("**/desk/")
    assert page.locator("[data-practice]").count() == 0
    page.click("nav >> text=Đào tạo")
    page.click("#enter-practice")
    page.wait_for_url("**/desk/")
    assert BANNER in page.inner_text("[data-practice]")
    page.fill("#card", "P0001")
    page.press("#card", "Enter")
    page.wait_for_url("**/desk/patrons/P0001")
    name = page.inner_text("h1")
    assert "Nguyễn Văn An" not in name  # a made-up name on the real card number
    page.fill("#barcode", "1001")
    page.press("#barcode", "Enter")
    page.wait_for_selector("#loans")
    assert "Truyện Kiều" in page.inner_text("#loans")
    assert BANNER in page.inner_text("[data-practice]")
    page.screenshot(path=str(server.shots / "practice-desk.png"))
    page.click("[data-practice] button.practice-leave")
    page.wait_for_url("**/training/")
    assert page.locator("[data-practice]").count() == 0
    assert Loan.select().count() == 0 and verify.digest() == real
    page.goto(f"{server.url}/desk/patrons/P0001")  # a look at the real card: audited
    assert "Nguyễn Văn An" in page.inner_text("h1")
    assert page.locator("#loans").count() == 0
