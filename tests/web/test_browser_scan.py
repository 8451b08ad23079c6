"""The desk as a keyboard-wedge scanner drives it: the scanner types a code and Enter
into whatever has focus, so after every action the scan field must have the focus and
the result must be in view. Real Chromium, keystrokes only after logging in."""

import pytest

from appliance.core import patrons
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def scan(page, code):
    """What a keyboard-wedge scanner does: keystrokes into the focused element, Enter."""
    page.keyboard.type(code)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def focused_id(page):
    return page.evaluate("document.activeElement && document.activeElement.id")


def in_view(page, selector):
    """The element is wholly inside the viewport, as the page is scrolled now."""
    return page.evaluate("""sel => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0; }""", selector)


def login(page, server):
    page.goto(f"{server.url}/desk/")
    page.fill("#username", "thuthu")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url("**/desk/")


@pytest.mark.parametrize("size", [(1024, 800), (1280, 600)])
def test_three_copies_in_a_row_by_keystrokes(server, page, ctx, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, server)
    assert focused_id(page) == "card"
    scan(page, "P0001")
    assert "Nguyễn Văn An" in page.inner_text("h1")
    for n, barcode in enumerate(("1001", "1002", "1003"), start=1):
        assert focused_id(page) == "barcode", f"scan {n}: the barcode field lost the focus"
        scan(page, barcode)
        assert page.locator(".flash.success").count() == 1, page.inner_text("main")
        assert in_view(page, ".flash.success"), f"scan {n}: the message is out of view"
        described = page.get_attribute("#barcode", "aria-describedby")
        assert described and page.inner_text(f"#{described}") == \
            page.inner_text(".flash.success"), "the result is not read with the field"
        assert page.locator("#loans tbody tr").count() == n
    assert sorted(ln.item.barcode for ln in patrons.open_loans(patrons.find(ctx, "P0001"))) \
        == ["1001", "1002", "1003"]
    # a refusal (the limit is three) keeps the focus and shows why, in view
    assert focused_id(page) == "barcode"
    scan(page, "1004")
    assert page.locator(".flash.error").count() == 1
    assert in_view(page, ".flash.error")
    assert focused_id(page) == "barcode"


def test_returns_in_a_row_by_keystrokes(server, page, ctx):
    from appliance.core import circulation
    for barcode in ("1001", "1002"):
        circulation.checkout(ctx, "P0001", barcode)
    login(page, server)
    page.goto(f"{server.url}/desk/checkin")
    for barcode in ("1001", "1002"):
        assert focused_id(page) == "barcode"
        scan(page, barcode)
        assert barcode in page.inner_text("#checkin-result")
        assert in_view(page, "#checkin-result")
    assert focused_id(page) == "barcode"
    assert patrons.open_loans(patrons.find(ctx, "P0001")) == [] or \
        not list(patrons.open_loans(patrons.find(ctx, "P0001")))
