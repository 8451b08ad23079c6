"""The kiosk as a patron meets it in real Chromium: return mode that stays until the
patron leaves it, and a screen that fits the Pi's 7" display (800×480) and a 1280×800
one without scrolling, so the ✔/✖ of the last scan is always in sight."""

import pytest

from appliance.core import circulation, patrons
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def kiosk_login(page, server, size):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", "kiosk")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    arrive(page, "start")


def arrive(page, mode):
    """A page loaded in full: wait until its script has run and its scan field has the
    focus (a scanner typing earlier would type into nothing, as it would in the library)."""
    page.wait_for_selector(f"#kiosk[data-mode={mode}]")
    page.wait_for_function(
        "() => !!document.activeElement && document.activeElement.matches('[data-scan]')")


def scan(page, code, mode, barcode=""):
    """A keyboard-wedge scanner: the code and Enter into the focused field; the page
    swaps in place, so wait for the result of this very scan."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#kiosk[data-mode={mode}] .result[data-barcode='{barcode}']")


def open_loans(ctx, card):
    return sorted(ln.item.barcode for ln in patrons.open_loans(patrons.find(ctx, card)))


def test_return_mode_stays_until_the_patron_leaves_it(server, ctx, browser):
    for barcode in ("1001", "1002", "1003"):
        circulation.checkout(ctx, "P0001", barcode)
    page = browser
    kiosk_login(page, server, (800, 480))
    scan(page, "P0001", "session")
    page.click("a[href$='/kiosk/returns']")
    arrive(page, "returns")
    for n, barcode in enumerate(("1001", "1002"), start=1):
        scan(page, barcode, "returns", barcode)
        assert page.locator(".result.ok").count() == 1
        assert page.get_attribute("form.scan", "action").endswith("/kiosk/checkin"), \
            f"after return {n} the scan field lends instead of returning"
    # scanning a just-returned copy again returns nothing and lends nothing
    scan(page, "1002", "returns", "1002")
    assert open_loans(ctx, "P0001") == ["1003"]
    page.click("a[href$='/kiosk/']")  # back to my loans: borrowing again
    page.wait_for_selector("#kiosk[data-mode=session]")
    assert page.locator("table.loans tbody tr").count() == 1


def test_return_mode_without_a_card_stays_too(server, ctx, browser):
    circulation.checkout(ctx, "P0002", "1001")
    circulation.checkout(ctx, "P0002", "1002")
    page = browser
    kiosk_login(page, server, (800, 480))
    page.click("a[href$='/kiosk/returns']")
    arrive(page, "returns")
    scan(page, "1001", "returns", "1001")
    scan(page, "1002", "returns", "1002")
    assert open_loans(ctx, "P0002") == []


def overflow(page):
    """How far the page scrolls, down and sideways (0, 0 when it fits)."""
    return page.evaluate("""() => { const d = document.documentElement;
        return [d.scrollHeight - window.innerHeight, d.scrollWidth - window.innerWidth]; }""")


def in_view(page, selector):
    return page.evaluate("""sel => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.top >= 0 && r.bottom <= window.innerHeight && r.left >= 0
               && r.right <= window.innerWidth && r.height > 0; }""", selector)


@pytest.mark.parametrize("size", [(800, 480), (1280, 800)])
def test_one_loan_fits_the_screen(server, ctx, browser, size):
    page = browser
    kiosk_login(page, server, size)
    assert overflow(page) == [0, 0], "the start page scrolls"
    scan(page, "P0001", "session")
    assert overflow(page) == [0, 0], "the session page scrolls"
    scan(page, "1001", "session", "1001")
    assert page.locator(".result.ok").count() == 1
    assert in_view(page, ".result.ok"), "the ✔ of the loan is out of sight"
    # a screen reader hears it from the live region that stays in the page
    page.wait_for_function("() => document.getElementById('announce').textContent.length > 0")
    assert "Truyện Kiều" in page.inner_text("#announce")
    assert page.get_attribute("#announce", "aria-live") == "assertive"
    assert in_view(page, "#barcode") and page.evaluate("document.activeElement.id") == "barcode"
    assert overflow(page) == [0, 0], "the page with one loan scrolls"
    assert page.evaluate("window.scrollY") == 0
    page.screenshot(path=str(server.shots / f"kiosk-{size[0]}x{size[1]}.png"))
    scan(page, "1005", "session", "1005")  # a reference copy: ✖ with the reason, in sight
    assert in_view(page, ".result.refused")
    assert overflow(page) == [0, 0]
    page.click("a[href$='/kiosk/returns']")
    arrive(page, "returns")
    scan(page, "1001", "returns", "1001")
    assert in_view(page, ".result.ok") and overflow(page) == [0, 0]
