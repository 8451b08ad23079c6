"""The town at the hub: the dashboard and the semi-annual report for report_viewer and
hub_admin, the indicators from real data, and what report_viewer may not do."""

import io
import json
from datetime import datetime

import openpyxl
import pypdf
import pytest

from appliance.core.errors import NotFound
from appliance.core.reports import figures, period
from appliance.core.reports import town as townmod
from tests.conftest import staff_login

from .conftest import REGISTER, TOWN
from .town import LIBRARIES, YEAR

pytestmark = TOWN


def test_the_dashboard_shows_every_library_and_the_indicators(hub):
    client = hub.test_client()
    staff_login(client, "baocao", landing="/hub/reports")
    html = client.get("/hub/reports", query_string={"period": f"{YEAR}-H1"}).get_data(
        as_text=True)
    for name in ("Thư viện thị xã Đông Hòa", "Thư viện Đồn Biên phòng",
                 "Phường Hòa Hiệp Bắc, Thị xã Đông Hòa", "thư viện lực lượng vũ trang"):
        assert name in html
    assert html.count("chưa có dữ liệu") >= 2  # digitised and trained: no data, no figure
    assert 'data-indicator="managed"' in html and "1 / 4" in html  # one synced lately
    assert "Nguyễn" not in html and "P0001" not in html


def test_the_indicators_api_counts_from_real_data(hub):
    client = hub.test_client()
    staff_login(client, "hub", landing="/hub/reports")
    data = client.get("/api/v1/reports/indicators").get_json()["indicators"]
    by = {i["name"]: i for i in data}
    assert by["managed"] == dict(by["managed"], numerator=1, denominator=4, value=25.0,
                                 target=60)
    assert by["managed"]["progress"] == pytest.approx(41.7)
    assert by["digitised"]["value"] is None and by["trained"]["value"] is None
    assert by["trained"]["numerator"] is None and by["trained"]["target"] == 100
    # key libraries: TT01 (synced, catalogue at the hub) and HH02 (silent 45 days)
    assert (by["online_services"]["numerator"], by["online_services"]["denominator"]) == (1, 2)


def test_the_semiannual_report_carries_every_library_s_figures(hub):
    client = hub.test_client()
    staff_login(client, "baocao", landing="/hub/reports")
    p = period.half(YEAR, 2)
    want = figures.compute(p, list(LIBRARIES) + ["PY-BP04"], today=datetime.now().date())
    book = openpyxl.load_workbook(io.BytesIO(client.get(
        "/hub/reports/semiannual.xlsx", query_string={"period": p.name}).data))
    rows = [r for r in book.active.iter_rows(values_only=True)]
    header = next(r for r in rows if r and r[0] == "Thư viện")
    loans = header.index("Lượt mượn")
    for code, name in LIBRARIES.items():
        row = next(r for r in rows if r and str(r[0]).startswith(name))
        assert row[loans] == want[code]["loans"], code
        # marked: TH03 (its device revoked: no sync counts), not the two that synced lately
        assert str(row[0]).endswith("*") == (code == "PY-TH03"), code
    town_row = next(r for r in rows if r and r[0] == "Toàn thị xã")
    assert town_row[loans] == sum(f["loans"] for f in want.values())
    pdf = client.get("/hub/reports/semiannual.pdf", query_string={"period": p.name})
    text = "\n".join(pg.extract_text() for pg in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "BÁO CÁO SÁU THÁNG" in text and "Thư viện Đồn Biên phòng" in text
    assert f"\n{sum(f['loans'] for f in want.values())}\n" in text
    # the hub's day is the town's last (31/12/2025): the half-year is not over, so a
    # library must have synced within the week before
    assert "chưa đồng bộ từ ngày 24/12/2025" in text


def test_report_viewer_reads_and_changes_nothing(hub):
    client = hub.test_client()
    token = staff_login(client, "baocao", landing="/hub/reports")
    assert client.get("/desk/").status_code == 403
    assert client.get("/desk/patrons").status_code == 403
    assert client.get("/desk/patrons/TT01-00001").status_code == 403
    r = client.post("/hub/reports/register", data={"csrf_token": token, "kind": "libraries",
                                                   "file": (io.BytesIO(REGISTER.encode()),
                                                            "r.csv")})
    assert r.status_code == 403
    assert client.post("/reports/counting", data={"csrf_token": token, "what": "visitors",
                                                  "day": f"{YEAR}-05-05", "count": "3"}
                       ).status_code == 403
    assert client.post("/api/v1/loans", json={"card": "x", "barcode": "y"}).status_code in (
        403, 404, 405)
    # a library's page: aggregates only, figures over fewer than five people withheld
    html = client.get("/reports/", query_string={"library": "PY-TH03",
                                                 "period": f"{YEAR}-02"}).get_data(as_text=True)
    assert "&lt; 5" in html
    api = client.get("/api/v1/reports/statistics", query_string={
        "from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}).get_json()
    assert api["library"] is None and api["figures"]["loans"] > 0  # the whole town
    text = json.dumps(api, ensure_ascii=False)
    assert "TT01-0" not in text and "Bạn đọc 1" not in text  # no card number, no name


def test_due_dates_warn_from_twenty_days_before():
    from datetime import date

    assert period.due_warning(date(2026, 5, 15)) is None
    assert period.due_warning(date(2026, 5, 16)) == ("2026-H1", date(2026, 6, 5), 20)
    assert period.due_warning(date(2026, 12, 5)) == ("2026-H2", date(2026, 12, 5), 0)
    assert period.due_warning(date(2026, 12, 6)) is None
    assert period.due_date("2026-H2") == date(2026, 12, 5)


def test_the_town_as_one_library_exports_its_sums(hub):
    client = hub.test_client()
    staff_login(client, "hub", landing="/hub/reports")
    p = period.quarter(YEAR, 2)
    want = figures.town(p, list(LIBRARIES) + ["PY-BP04"], today=datetime.now().date())
    book = openpyxl.load_workbook(io.BytesIO(client.get(
        "/reports/statistics.xlsx", query_string={"period": p.name}).data))
    rows = {r[0]: r[1] for r in book.active.iter_rows(values_only=True) if r and r[0]}
    assert rows["Lượt mượn"] == want["loans"] and rows["Lượt bạn đọc"] == want["visits"]["total"]
    assert "Toàn thị xã" in " ".join(str(r) for r in rows)


def test_unknown_libraries_and_units_are_said(hub):
    client = hub.test_client()
    staff_login(client, "hub", landing="/hub/reports")
    r = client.get("/api/v1/reports/statistics", query_string={
        "library": "PY-NONE", "from": f"{YEAR}-01-01", "to": f"{YEAR}-01-31"})
    assert r.status_code == 404 and "PY-NONE" in r.get_json()["error"]["message"]
    with pytest.raises(NotFound) as refused:
        townmod.save_entry("PY-X", "Thư viện X", "public", "NOPE")
    assert refused.value.params == {"unit": "NOPE"}
