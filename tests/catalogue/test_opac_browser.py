"""The OPAC in real Chromium: search without diacritics, record page, renew a loan."""

import pytest

from appliance.core import circulation
from tests.factories import loans_fall_due_today

pytestmark = pytest.mark.browser


@pytest.fixture
def db_backend():
    """The browser drives pages test_opac.py already runs on both databases."""
    return "sqlite"


def test_search_record_and_renew_in_chromium(ctx, server, browser):
    circulation.checkout(ctx, "P0001", "1001")
    page = browser
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(f"{server.url}/opac/")
    page.fill("#q", "truyen kieu")
    page.keyboard.press("Enter")
    page.wait_for_selector("a.hit-title")
    assert page.inner_text("a.hit-title") == "Truyện Kiều"
    assert "Đang cho mượn" in page.inner_text(".copies") or "On loan" in page.inner_text(".copies")
    page.click("a.hit-title")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "Truyện Kiều"
    assert page.locator('script[type="application/ld+json"]').count() == 1
    # log in with card and PIN, renew from the account page (days later: it moves the date)
    loans_fall_due_today(ctx)
    page.goto(f"{server.url}/opac/login")
    page.fill("#card", "P0001")
    page.fill("#pin", "1234")
    page.click("main button[type=submit]")
    page.wait_for_selector("#loans")
    before = page.inner_text("#loans .due")
    page.click("#loans button")
    page.wait_for_selector(".flash")
    assert "1001" in page.inner_text(".flash")
    from appliance.core.models import Loan
    assert Loan.get(Loan.returned_at.is_null()).renewals == 1
    assert page.inner_text("#loans .due") >= before
    # English is one click away
    page.click("a[hreflang=en]")
    page.wait_for_selector("html[lang=en]")
