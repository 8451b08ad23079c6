"""The reports at the desk and in the API: a library's page with its charts, exports
whose numbers are the computed ones, counting at the desk, and who may see what."""

import io
import json

import openpyxl
import pypdf

from appliance.core import circulation
from appliance.core.models import Event, Patron
from tests.conftest import staff_login
from tests.factories import loans_fall_due_today


def _busy(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkout(ctx, "C0001", "1002")
    loans_fall_due_today(ctx, "1001")  # so the renewal moves the date
    circulation.renew(ctx, "1001")
    circulation.checkin(ctx, "1002")


def _month(ctx):
    today = ctx.clock.today()
    return {"kind": "month", "year": today.year, "number": today.month}


def test_the_library_page_shows_its_figures_and_charts_without_javascript(ctx, client):
    _busy(ctx)
    staff_login(client)
    html = client.get("/reports/", query_string=_month(ctx)).get_data(as_text=True)
    assert 'data-key="loans"><td>Lượt mượn</td><td class="num">2</td>' in html
    assert 'data-key="renewals"><td>Lượt gia hạn</td><td class="num">1</td>' in html
    assert html.count("<svg") == 3 and "<script" not in html
    assert "Lượt mượn theo tháng" in html


def test_exports_carry_the_computed_numbers(ctx, client):
    _busy(ctx)
    staff_login(client, "quanly")
    args = _month(ctx)
    book = openpyxl.load_workbook(io.BytesIO(client.get("/reports/statistics.xlsx",
                                                        query_string=args).data))
    rows = {r[0]: r[1] for r in book.active.iter_rows(values_only=True) if r and r[0]}
    assert rows["Lượt mượn"] == 2 and rows["Lượt trả"] == 1 and rows["Lượt gia hạn"] == 1
    assert rows["Tài liệu số hóa"] == "chưa có dữ liệu"
    pdf = client.get("/reports/statistics.pdf", query_string=args)
    assert pdf.content_type == "application/pdf"
    text = "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Thư viện phường Hòa Hiệp Trung" in text and "NGƯỜI LẬP BIỂU" in text
    assert "\nLượt mượn\n2\n" in text and "\nLượt gia hạn\n1\n" in text
    csv_text = client.get("/reports/statistics.csv", query_string=args).data.decode("utf-8-sig")
    assert "Lượt mượn,2," in csv_text


def test_counting_at_the_desk_records_events(ctx, client):
    token = staff_login(client)
    day = ctx.clock.today().isoformat()
    client.post("/reports/counting", data={"csrf_token": token, "what": "visitors",
                                           "day": day, "count": "17"})
    client.post("/reports/counting", data={"csrf_token": token, "what": "visitors",
                                           "day": day, "count": "15"})  # corrected
    client.post("/reports/counting", data={"csrf_token": token, "what": "on_site",
                                           "barcode": "1005"})
    r = client.post("/reports/counting", data={"csrf_token": token, "what": "visitors",
                                               "day": "2999-01-01", "count": "3"},
                    follow_redirects=True)
    assert "chưa đến" in r.get_data(as_text=True)
    kinds = [e.kind for e in Event.select().order_by(Event.pos)]
    assert kinds.count("visit.counted") == 2 and kinds.count("item.used") == 1
    html = client.get("/reports/", query_string=_month(ctx)).get_data(as_text=True)
    assert 'data-key="visits.counted"><td>đếm không xuất trình thẻ</td><td class="num">15' in html
    assert 'data-key="items_served.in_library_use"><td>đọc tại chỗ</td><td class="num">1' \
        in html


def test_the_api_gives_every_figure_to_those_who_may_read_reports(ctx, server):
    import requests

    from tests.conftest import login_token

    _busy(ctx)
    today = ctx.clock.today().isoformat()
    url = f"{server.url}/api/v1/reports/statistics"
    args = {"library": ctx.library, "from": today, "to": today}
    token = login_token(server.url, "quanly")
    r = requests.get(url, params=args, headers=token,
                     timeout=10)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["figures"]["loans"] == 2 and data["figures"]["digitised"]["documents"] is None
    assert data["period"] == {"from": today, "to": today, "kind": "range",
                              "name": f"{today}..{today}"}
    librarian = login_token(server.url, "thuthu")
    assert requests.get(url, params=args, headers=librarian,
                        timeout=10).status_code == 403
    viewer = login_token(server.url, "baocao")
    seen = requests.get(url, params=args, headers=viewer,
                        timeout=10).json()
    assert seen["figures"]["patrons_active"]["total"] == "< 5"  # two people
    assert seen["figures"]["loans"] == 2  # copies, not people
    assert "P0001" not in json.dumps(seen) and "Nguyễn" not in json.dumps(seen)
    other = dict(args, library="PY-XX99")
    assert requests.get(url, params=other, headers=viewer,
                        timeout=10).status_code == 403
    bad = dict(args, to="31/12/2026")
    r = requests.get(url, params=bad, headers=viewer, timeout=10)
    assert r.status_code == 400 and "YYYY-MM-DD" in r.json()["error"]["message"]


def test_a_patron_who_identifies_twice_a_day_is_one_visit(ctx):
    from appliance.core.reports import counting

    patron = Patron.get(Patron.card == "P0002")
    assert counting.patron_identified(ctx, patron) is True
    assert counting.patron_identified(ctx, patron) is False
    assert [e.kind for e in Event.select()].count("visit.recorded") == 1


def test_a_card_shown_at_the_desk_or_the_kiosk_is_the_day_s_visit(ctx, app):
    desk = app.test_client()
    token = staff_login(desk)
    for _ in range(2):
        desk.post("/desk/patron", data={"csrf_token": token, "card": "P0001"})
    desk.post("/desk/patron", data={"csrf_token": token, "card": "NOBODY"})
    kiosk = app.test_client()
    kiosk_token = staff_login(kiosk, "kiosk", landing="/kiosk/")
    kiosk.post("/kiosk/identify", data={"csrf_token": kiosk_token, "card": "P0002"})
    visits = [e for e in Event.select() if e.kind == "visit.recorded"]
    cards = {Patron.get_by_id(json.loads(e.body)["patron_id"]).card for e in visits}
    assert cards == {"P0001", "P0002"} and len(visits) == 2


def test_the_report_routes_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    statistics = spec["paths"]["/reports/statistics"]["get"]
    assert {(p["name"], p["required"]) for p in statistics["parameters"]} == {
        ("library", False), ("from", True), ("to", True)}
    assert "get" in spec["paths"]["/reports/indicators"]
    assert {"q", "page"} <= {p["name"] for p in spec["paths"]["/search"]["get"]["parameters"]}


def test_counts_are_rebuilt_from_the_log(ctx):
    from appliance.core import verify
    from appliance.core.reports import counting

    counting.patron_identified(ctx, Patron.get(Patron.card == "P0002"))
    counting.count_visitors(ctx, ctx.clock.today().isoformat(), 9)
    counting.count_visitors(ctx, ctx.clock.today().isoformat(), 7)
    counting.used_on_site(ctx, "1003")
    held = verify.snapshot()
    assert held["VisitTally"] == [(json.dumps(f"{ctx.library}|{ctx.clock.today()}"), json.dumps(ctx.library), json.dumps(ctx.clock.today().isoformat()), "7")]
    assert held["Visit"] and held["InLibraryUse"]
    verify.rebuild(ctx)
    assert verify.differences(held, verify.snapshot()) == []
