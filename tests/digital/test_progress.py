"""Digitisation progress: the plan's indicator from marked records and their digital
copies, per library and for the town, the work list, and the reports' figures."""

from datetime import date

from appliance.core import catalogue
from appliance.core.digital import progress
from appliance.core.reports import figures, town
from appliance.core.reports.period import Period
from tests.digital.conftest import scanned_book


def test_indicator_per_library_work_list_and_figures(dctx, tmp_path):
    for bib in dctx.bibs[:4]:
        catalogue.save_bib(dctx, {"id": bib.id, "local_history": True})
    assert progress.town_counts() == (4, None)  # no digital document yet: no data
    scanned_book(dctx, tmp_path, ocr=False, bib=3)
    assert progress.town_counts() == (4, 1)
    assert progress.by_library() == [{"library": dctx.library, "marked": 4, "digitised": 1,
                                      "percent": 25.0}]
    remaining = progress.work_list()
    assert [r["bib_id"] for r in remaining] == [b.id for b in dctx.bibs[:3]]  # oldest first
    indicator = {i["name"]: i for i in town.indicators({})}["digitised"]
    assert (indicator["numerator"], indicator["denominator"], indicator["value"]) == (1, 4, 25.0)
    today = date.today()
    period = Period(date(today.year, 1, 1), date(today.year, 12, 31))
    assert figures.compute(period)[dctx.library]["digitised"]["documents"] == 1


def test_progress_page_and_api(dctx, tmp_path):
    from appliance.web import create_app
    from tests.conftest import staff_login

    for bib in dctx.bibs[:2]:
        catalogue.save_bib(dctx, {"id": bib.id, "rare": True})
    scanned_book(dctx, tmp_path, ocr=False, bib=0)
    client = create_app(dctx, testing=True).test_client()
    assert client.get("/api/v1/digital/progress").status_code == 401
    staff_login(client)
    data = client.get("/api/v1/digital/progress?order=requested").get_json()
    assert data["town"] == {"marked": 2, "digitised": 1, "percent": 50.0, "target": 70}
    assert [r["bib_id"] for r in data["work_list"]] == [dctx.bibs[1].id]
    html = client.get("/hub/digital/progress").get_data(as_text=True)
    assert "Tiến độ số hoá" in html and "50.0%" in html and dctx.bibs[1].title in html
