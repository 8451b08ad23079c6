"""report_viewer in real headless Chromium at the hub: the dashboard, another period,
a library's page with its charts, and the semi-annual export."""

import openpyxl
import pytest

from tests.conftest import Server
from tests.factories import PASSWORD

from .conftest import TOWN
from .town import YEAR

pytestmark = [pytest.mark.browser, TOWN]


def test_report_viewer_reads_the_town_and_exports_it(hub, page, tmp_path):
    with Server(hub) as server:
        page.goto(f"{server.url}/login")
        page.fill("#username", "baocao")
        page.fill("#password", PASSWORD)
        page.press("#password", "Enter")
        page.wait_for_url("**/hub/reports**")
        assert "Thư viện trên địa bàn" in page.inner_text("h1")
        assert page.locator("[data-indicator]").count() == 4
        page.select_option("select[name=kind]", "half")
        page.fill("input[name=number]", "1")
        page.fill("input[name=year]", str(YEAR))
        page.click("form.period >> text=Xem")
        page.wait_for_url(f"**year={YEAR}**")
        assert f"01/01/{YEAR} đến 30/06/{YEAR}" in page.inner_text("main")
        assert page.locator("tr[data-library]").count() == 4
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        with page.expect_download() as download:
            page.click("p.exports >> text=XLSX")
        saved = tmp_path / "town.xlsx"
        download.value.save_as(saved)
        rows = list(openpyxl.load_workbook(saved).active.iter_rows(values_only=True))
        assert any(r and r[0] == "Toàn thị xã" for r in rows)
        page.click("tr[data-library=PY-HH02] >> a")
        page.wait_for_selector("svg")
        assert page.locator("figure.chart svg").count() == 3
        assert page.locator("script").count() == 0
        page.screenshot(path=str(tmp_path / "library.png"), full_page=True)
