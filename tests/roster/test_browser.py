"""In real Chromium, as a school librarian does it on the Pi's 800x480 screen and on a
phone: upload a class list, see the row with a problem, import the good ones, print
their cards."""

import io

import pytest
from pypdf import PdfReader

from tests.factories import PASSWORD
from tests.roster import classlists as CL

pytestmark = pytest.mark.browser


def wide_by(page):
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_upload_see_the_problem_import_print(server, page, tmp_path):
    page.set_viewport_size({"width": 800, "height": 480})
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", "thuthu")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/desk/")
    page.goto(f"{server.url}/desk/patrons")
    page.click("text=Nhập danh sách lớp")
    rows = CL.pupils(6)
    rows[2][2] = "30/02/2013"
    listing = tmp_path / "lop6a.xlsx"
    listing.write_bytes(CL.xlsx(rows))
    page.set_input_files("#file", str(listing))
    page.click("main button[type=submit]")
    page.wait_for_selector("#mapping")
    assert page.input_value("#f_birth_date") == "2"  # "Ngày sinh" found by its heading
    page.check("input[name=consent]")
    # the same page comes back checked again: wait for the new one, not the old table
    with page.expect_navigation():
        page.click("#mapping button[type=submit]")
    bad = page.locator("#preview tr.bad")
    assert bad.count() == 1
    assert "30/02/2013 không phải là ngày" in bad.inner_text()
    assert page.locator("#preview tr.good").count() == 5
    assert wide_by(page) <= 0
    page.screenshot(path=str(server.shots / "roster-preview-800.png"))
    page.set_viewport_size({"width": 360, "height": 740})
    assert wide_by(page) <= 0
    page.set_viewport_size({"width": 800, "height": 480})
    page.click("#do-import button")
    page.wait_for_selector("#result")
    assert "Đã nhập 5 học sinh, từ chối 1 dòng." in page.inner_text("#result")
    assert page.locator("#imported tbody tr").count() == 5
    assert wide_by(page) <= 0
    cards = page.get_attribute("#print-cards input[name=cards]", "value")
    csrf = page.get_attribute("#print-cards input[name=csrf_token]", "value")
    assert len(cards.split()) == 5
    with page.expect_response(lambda r: r.url.endswith("/desk/patrons/cards")) as answer:
        page.click("#print-cards button")
    assert answer.value.status == 200
    assert answer.value.headers["content-type"] == "application/pdf"
    # the browser opens its PDF viewer on it; the same form, sent with the page's own
    # session, gives the PDF's bytes
    sent = page.context.request.post(answer.value.url, form={"csrf_token": csrf,
                                                             "cards": cards})
    assert len(PdfReader(io.BytesIO(sent.body())).pages) == 1


def test_new_school_year_fits_a_phone(server, page, ctx):
    from appliance.core.roster import importing
    importing.run(ctx, CL.xlsx(CL.pupils(3, "9A") + CL.pupils(2, "6A", start=9)),
                  consent=True)
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", "quanly")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/desk/")
    page.goto(f"{server.url}/desk/patrons/new-year")
    assert "ra trường" in page.inner_text("#plan")
    assert wide_by(page) <= 0
    page.click("#do-year button")
    page.wait_for_url("**/desk/patrons")
    assert "Đã chuyển sang năm học mới: 5 học sinh." in page.inner_text("main")
