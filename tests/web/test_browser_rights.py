"""A patron and a librarian in real headless Chromium: the patron downloads their data
from the OPAC account (PDF and JSON, in Vietnamese), the librarian erases a patron who
asks at the desk, after typing the card number to confirm."""

import json

from pypdf import PdfReader

from appliance.core.models import Patron
from tests.factories import PASSWORD


def test_a_patron_downloads_their_data_and_the_desk_erases_them(server, page, tmp_path):
    page.goto(f"{server.url}/opac/login")
    assert page.locator("html").get_attribute("lang") == "vi"
    page.fill("input[name=card]", "P0002")
    page.fill("input[name=pin]", "1234")
    page.press("input[name=pin]", "Enter")
    page.wait_for_url("**/opac/account")
    with page.expect_download() as got:
        page.click("text=Tải dữ liệu của tôi (PDF)")
    pdf = tmp_path / "toi.pdf"
    got.value.save_as(pdf)
    text = "".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert "Trần Thị Bình" in text and "Dữ liệu thư viện lưu về bạn" in text
    with page.expect_download() as got:
        page.click("text=Tải dữ liệu của tôi (JSON)")
    data = json.loads(open(got.value.path(), encoding="utf-8").read())
    assert data["profile"]["card"] == "P0002"
    page.screenshot(path=str(server.shots / "opac-my-data.png"))

    page.goto(f"{server.url}/login")
    page.fill("#username", "thuthu")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url("**/desk/")
    page.goto(f"{server.url}/desk/patrons/P0002")
    page.fill("#confirm", "P0002")
    page.screenshot(path=str(server.shots / "desk-erase.png"))
    page.click("#erase-patron button[type=submit]")
    page.wait_for_selector(".flash.success")
    assert "Thẻ P0002 đã được xoá" in page.inner_text(".flash.success")
    assert not Patron.select().where(Patron.name == "Trần Thị Bình").exists()
    page.goto(f"{server.url}/desk/patrons?q=Bình")
    assert "Trần Thị Bình" not in page.content()
