"""Cataloguing a book the catalogue holds already, in real Chromium: the warning with a
link to the record held, "save anyway", then the merge from the record page; the
second record's old address leads to the kept one, in the OPAC too."""

from appliance.core.models import Bib, Item
from tests.factories import PASSWORD


def _login(page, url):
    page.goto(f"{url}/login")
    page.fill("#username", "thuthu")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url("**/desk/")


def test_a_likely_duplicate_is_warned_of_then_merged(server, page, ctx):
    kieu = ctx.bibs[0]
    _login(page, server.url)
    page.goto(f"{server.url}/desk/catalogue/new")
    page.fill("#title", "truyen kieu")  # typed without marks, another case
    page.fill("#authors", "NGUYỄN DU")
    page.fill("#isbn", "978-604-0000-01-9")
    page.press("#isbn", "Enter")
    page.wait_for_selector("#duplicates")
    assert "Biểu ghi này có thể đã có trong mục lục" in page.inner_text("#duplicates")
    link = page.locator("#duplicates a").first
    assert link.inner_text() == "Truyện Kiều"
    assert link.get_attribute("href").endswith(f"/desk/catalogue/{kieu.id}")
    assert Bib.select().where(Bib.title == "truyen kieu").count() == 0  # nothing saved yet
    page.click("#save-anyway")
    page.wait_for_selector(".flash.success")
    twin_url = page.url
    twin = Bib.get(Bib.title == "truyen kieu")
    assert twin_url.endswith(f"/desk/catalogue/{twin.id}")
    page.click("button:has-text('Thêm bản sách')")  # one copy on the twin, with a generated barcode
    page.wait_for_url("**/labels**")
    barcode = Item.get(Item.bib == twin.id).barcode
    page.goto(f"{server.url}/desk/catalogue/{kieu.id}")
    assert "truyen kieu" in page.inner_text("#duplicates")
    page.click("#duplicates button.merge")
    page.wait_for_selector(".flash.success")
    assert "chuyển về đây" in page.inner_text(".flash.success")
    assert barcode in page.inner_text("#copies") and "1001" in page.inner_text("#copies")
    assert page.locator("#duplicates").count() == 0
    page.goto(twin_url)  # the retired record's address leads to the kept one
    assert page.url.endswith(f"/desk/catalogue/{kieu.id}")
    page.goto(f"{server.url}/opac/record/{twin.id}")
    assert page.url.endswith(f"/opac/record/{kieu.id}")
    page.screenshot(path=str(server.shots / "merged.png"))
