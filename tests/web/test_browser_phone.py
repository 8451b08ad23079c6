"""No page scrolls sideways on a 360 px phone: the desk, the catalogue, the kiosk and
the OPAC account, each with content that makes it wide (loans, long titles, copies)."""

import pytest

from appliance.core import catalogue, circulation, holds, policy
from appliance.core.fees import commands as fees
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


def wide_by(page):
    """How many pixels the document is wider than the screen (0 when it fits)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def login(page, server, username, landing):
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"**{landing}")


@pytest.fixture
def busy(ctx):
    """A patron with loans, a hold and a fee paid in part, a long title with copies on
    loan and on the shelf."""
    bib = catalogue.save_bib(ctx, {"title": "Tuyển tập truyện ngắn hiện thực phê phán Việt Nam "
                                            "giai đoạn 1930–1945, tập một",
                                   "authors": ["Nhiều tác giả"], "isbn": "9786040000033",
                                   "language": "vie", "year": 2019})
    catalogue.save_item(ctx, {"bib": bib.id, "barcode": "2001-TUYENTAP-0001",
                              "call_number": "895.922 34 TUY", "location": "Kho mở tầng hai"})
    catalogue.save_item(ctx, {"bib": bib.id, "barcode": "2002"})
    for barcode in ("2001-TUYENTAP-0001", "1001", "1002"):
        circulation.checkout(ctx, "P0001", barcode)
    holds.place(ctx, "P0001", ctx.bibs[2].id)
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=5, max_renewals=2,
                     replacement_fee=150000)
    fees.pay(ctx, fees.declare(ctx, "2001-TUYENTAP-0001", "lost").id, amount=50000)
    return bib


def test_desk_pages_fit_a_phone(server, page, busy):
    page.set_viewport_size(PHONE)
    login(page, server, "thuthu", "/desk/")
    wide = {}
    for path in ("/desk/", "/desk/patrons/P0001", "/desk/bibs", f"/desk/bibs/{busy.id}",
                 "/desk/items/2001-TUYENTAP-0001", "/desk/checkin", "/desk/patrons",
                 "/desk/holds", "/desk/overdue", "/desk/rules"):
        page.goto(server.url + path)
        wide[path] = wide_by(page)
    assert {p: w for p, w in wide.items() if w > 0} == {}


def test_opac_pages_fit_a_phone(server, page, busy):
    page.set_viewport_size(PHONE)
    wide = {}
    for path in ("/opac/", "/opac/?q=truyen", f"/opac/record/{busy.id}"):
        page.goto(server.url + path)
        wide[path] = wide_by(page)
    page.goto(f"{server.url}/opac/login")
    page.fill("#card", "P0001")
    page.fill("#pin", "1234")
    page.click("main button[type=submit]")
    page.wait_for_selector("#loans")
    assert page.locator("#fees tbody tr").count() == 1
    wide["/opac/account"] = wide_by(page)
    assert {p: w for p, w in wide.items() if w > 0} == {}


def test_kiosk_with_loans_fits_a_phone(server, page, busy):
    page.set_viewport_size(PHONE)
    login(page, server, "kiosk", "/kiosk/")
    page.fill("#card", "P0001")
    page.press("#card", "Enter")
    page.wait_for_selector("#kiosk[data-mode=session] table.loans")
    assert page.locator("table.loans tbody tr").count() == 3
    wide = {"session": wide_by(page)}
    page.click("a.finish")
    page.wait_for_selector("#kiosk[data-mode=receipt]")
    wide["receipt"] = wide_by(page)
    assert {p: w for p, w in wide.items() if w > 0} == {}
