"""The suggestions in real Chromium: the OPAC record page's "Bạn đọc cũng mượn", and the
cataloguing screen's class suggestion, accepted into the form."""

import pytest

from appliance.core.models import Bib
from appliance.core.suggest import build
from tests.factories import PASSWORD
from tests.suggest import town

pytestmark = pytest.mark.browser


def test_record_page_and_the_cataloguing_suggestion_accepted(ctx, server, browser):
    bibs = town.build(ctx)
    build.build(ctx)
    page = browser
    page.goto(f"{server.url}/opac/record/{bibs['Số đỏ'].id}")
    page.wait_for_selector("#also-borrowed")
    assert "Bạn đọc cũng mượn" in page.inner_text("#also-borrowed h2")
    page.click("#also-borrowed a")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "Tắt đèn"
    # the librarian catalogues a new volume of a series the town holds
    page.goto(f"{server.url}/login")
    page.fill("#username", "thuthu")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/desk/**")
    page.goto(f"{server.url}/desk/catalogue/new")
    page.fill("#title", "Kính vạn hoa 3")
    page.fill("#authors", "Nguyễn Nhật Ánh")
    assert page.is_hidden("#class-suggestion")
    page.click("#suggest-class")
    page.wait_for_selector("#class-suggestion:not([hidden])")
    assert page.inner_text("#suggested-ddc") == "895.9223"
    evidence = page.inner_text("#suggestion-evidence")
    assert "Kính vạn hoa 1" in evidence and "Kính vạn hoa 2" in evidence
    page.click("#accept-suggestion")
    assert page.input_value("#ddc") == "895.9223"
    assert page.input_value("#subjects") == "Truyện thiếu nhi"
    assert page.is_hidden("#class-suggestion")
    page.click("form.form button[type=submit]")
    page.wait_for_selector("h1")
    saved = Bib.get(Bib.title == "Kính vạn hoa 3")
    assert (saved.ddc, saved.subjects) == ("895.9223", ["Truyện thiếu nhi"])
    # ignored: nothing is filled in
    page.goto(f"{server.url}/desk/catalogue/new")
    page.fill("#title", "Kính vạn hoa 4")
    page.click("#suggest-class")
    page.wait_for_selector("#class-suggestion:not([hidden])")
    page.click("#ignore-suggestion")
    assert page.input_value("#ddc") == "" and page.is_hidden("#class-suggestion")
