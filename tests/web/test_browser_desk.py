"""A librarian in real headless Chromium: log in, lend a book, return it."""

from tests.factories import PASSWORD


def test_login_lend_and_return_at_the_desk(server, page):
    page.goto(f"{server.url}/desk/")
    assert "/login" in page.url
    assert page.locator("html").get_attribute("lang") == "vi"
    page.fill("#username", "thuthu")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url("**/desk/")
    page.fill("#card", "P0001")
    page.press("#card", "Enter")
    page.wait_for_url("**/desk/patrons/P0001")
    assert "Nguyễn Văn An" in page.inner_text("h1")
    page.fill("#barcode", "1001")  # the scanner types the barcode and Enter
    page.press("#barcode", "Enter")
    page.wait_for_selector("#loans")
    assert "Truyện Kiều" in page.inner_text("#loans")
    assert page.locator(".flash.success").count() == 1
    page.fill("#barcode", "1005")  # a reference copy: refused, with a reason
    page.press("#barcode", "Enter")
    page.wait_for_selector(".flash.error")
    assert "1005" in page.inner_text(".flash.error")
    with page.expect_navigation():  # the old page is in Vietnamese: wait for the new one
        page.click("text=English")
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto(f"{server.url}/desk/checkin")
    page.fill("#barcode", "1001")
    page.press("#barcode", "Enter")
    page.wait_for_selector("#checkin-result")
    assert "P0001" in page.inner_text("#checkin-result")
    page.goto(f"{server.url}/desk/patrons/P0001")
    assert page.locator("#loans").count() == 0
    page.screenshot(path=str(server.shots / "desk-patron.png"))
