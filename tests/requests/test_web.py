"""The requests on the web: the patron asks in the OPAC and downloads from their
account; staff answer at the desk; the JSON API does both. In Vietnamese."""

import io
import re

from pypdf import PdfReader

from appliance.core import patrons
from appliance.core.models import Loan, RemoteRequest
from tests.conftest import csrf_token, staff_login
from tests.requests.conftest import make_pdf


def patron_login(client, card="P0001"):
    r = client.post("/opac/login", data={"card": card, "pin": "1234",
                                         "csrf_token": csrf_token(client, "/opac/login")})
    assert r.status_code == 302, r.text
    return csrf_token(client, "/opac/requests")


def test_a_patron_asks_staff_send_the_pdf_the_patron_downloads_it(app, ctx):
    reader, desk = app.test_client(), app.test_client()
    token = patron_login(reader)
    bib = ctx.bibs[3]
    page = reader.get(f"/opac/record/{bib.id}").text
    assert "Yêu cầu sao chụp trang" in page
    form = reader.get(f"/opac/requests/new?kind=copy&bib={bib.id}").text
    assert "Bản quyền" in form and 'id="copyright"' in form
    refused = reader.post(f"/opac/requests/new?kind=copy&bib={bib.id}", data={
        "csrf_token": token, "pages": "3-5", "purpose": "nghiên cứu"})
    assert refused.status_code == 400 and "chấp nhận" in refused.text
    r = reader.post(f"/opac/requests/new?kind=copy&bib={bib.id}", data={
        "csrf_token": token, "pages": "3-5", "purpose": "nghiên cứu", "copyright": "1"})
    assert r.status_code == 302
    req = RemoteRequest.get()
    mine = reader.get("/opac/requests").text
    assert "Lịch sử Phú Yên" in mine and "đang chờ" in mine

    staff = staff_login(desk)
    queue = desk.get("/desk/requests/").text
    assert f"/desk/requests/{req.id}" in queue
    desk.post(f"/desk/requests/{req.id}/attach", data={"csrf_token": staff})
    shown = desk.get(f"/desk/requests/{req.id}").text
    assert "Hãy chọn tệp PDF" in shown and 'id="rq-attach"' not in shown  # not accepted yet
    desk.post(f"/desk/requests/{req.id}/accept", data={"csrf_token": staff})
    bad = desk.post(f"/desk/requests/{req.id}/attach", data={
        "csrf_token": staff, "pdf": (io.BytesIO(b"not a pdf"), "scan.pdf")},
        content_type="multipart/form-data", follow_redirects=True).text
    assert "không phải tệp PDF" in bad
    desk.post(f"/desk/requests/{req.id}/attach", data={
        "csrf_token": staff, "pdf": (io.BytesIO(make_pdf(3)), "scan.pdf")},
        content_type="multipart/form-data")
    assert RemoteRequest.get_by_id(req.id).state == "ready"

    mine = reader.get("/opac/requests").text
    link = re.search(r'class="rq-download" href="([^"]+)"', mine).group(1).replace("&amp;", "&")
    other = app.test_client()
    patron_login(other, "P0002")
    assert other.get(link).status_code == 404  # another patron: no such request of theirs
    got = reader.get(link)
    assert got.status_code == 200 and got.data.startswith(b"%PDF-")
    assert RemoteRequest.get_by_id(req.id).state == "delivered"
    forged = reader.get(link[:-3] + "abc")
    assert forged.status_code == 403 and "không hợp lệ" in forged.text


def test_a_loan_by_post_label_slip_and_return_at_the_desk(app, ctx):
    reader, desk = app.test_client(), app.test_client()
    token = patron_login(reader)
    bib = ctx.bibs[1]
    assert "Mượn qua bưu điện" in reader.get(f"/opac/record/{bib.id}").text
    r = reader.post(f"/opac/requests/new?kind=postal_loan&bib={bib.id}", data={
        "csrf_token": token, "address": "12 Trần Hưng Đạo, phường 1, Tuy Hòa"})
    assert r.status_code == 302
    req = RemoteRequest.get()
    staff = staff_login(desk)
    desk.post(f"/desk/requests/{req.id}/accept", data={"csrf_token": staff})
    for path in ("label.pdf", "slip.pdf"):
        pdf = desk.get(f"/desk/requests/{req.id}/{path}")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    sheet = desk.get("/desk/requests/labels.pdf")
    text = PdfReader(io.BytesIO(sheet.data)).pages[0].extract_text()
    assert "Trần Hưng Đạo" in text and "Nguyễn Văn An" in text
    desk.post(f"/desk/requests/{req.id}/lend", data={"csrf_token": staff, "barcode": "1002"})
    req = RemoteRequest.get_by_id(req.id)
    assert req.state == "lent" and Loan.get_by_id(req.loan_id).returned_at is None
    back = desk.post("/desk/checkin", data={"csrf_token": staff, "barcode": "1002"}).text
    assert 'id="by-post"' in back and "bưu điện" in back
    assert RemoteRequest.get_by_id(req.id).state == "returned"


def test_the_api_for_the_patron_and_for_staff(app, ctx):
    reader, desk = app.test_client(), app.test_client()
    patron_login(reader)
    r = reader.post("/api/v1/requests", json={"kind": "copy", "bib_id": ctx.bibs[0].id,
                                              "pages": "1", "purpose": "học tập",
                                              "copyright_accepted": True})
    assert r.status_code == 201 and r.json["state"] == "requested"
    req_id = r.json["id"]
    bad = reader.post("/api/v1/requests", json={"kind": "copy", "bib_id": ctx.bibs[0].id,
                                                "pages": 3})
    assert bad.status_code == 400 and bad.json["error"]["code"] == "bad_field"
    assert reader.post(f"/api/v1/requests/{req_id}/accept", json={}).status_code == 403
    other = reader.post("/api/v1/requests", json={"kind": "postal_loan",
                                                  "bib_id": ctx.bibs[1].id,
                                                  "address": "3 Nguyễn Huệ, phường 5, Tuy Hòa"})
    assert other.status_code == 201 and other.json["address"].startswith("3 Nguyễn Huệ")
    gone = reader.post(f"/api/v1/requests/{other.json['id']}/cancel", json={})
    assert gone.status_code == 200 and gone.json["state"] == "cancelled"
    listed = reader.get("/api/v1/requests").json["requests"]
    assert {x["id"] for x in listed} == {req_id, other.json["id"]}
    staff_login(desk)
    ok = desk.post(f"/api/v1/requests/{req_id}/accept", json={})
    assert ok.status_code == 200 and ok.json["state"] == "accepted"
    again = desk.post(f"/api/v1/requests/{req_id}/accept", json={})
    assert again.status_code == 409 and "đã chấp nhận" in again.json["error"]["message"]
    assert desk.post(f"/api/v1/requests/{req_id}/refuse", json={}).status_code == 400
    assert desk.post(f"/api/v1/requests/{req_id}/refuse",
                     json={"reason": "Sách đang phục chế"}).json["state"] == "refused"
    assert {x["id"] for x in desk.get("/api/v1/requests?all=1").json["requests"]} == \
        {req_id, other.json["id"]}
    assert desk.get("/api/v1/requests").json["requests"] == []
    spec = desk.get("/api/v1/openapi.json").json
    assert "post" in spec["paths"]["/requests"] and "/requests/{request_id}/{action}" in \
        spec["paths"]
    assert app.test_client().get("/api/v1/requests").status_code == 401
    patron = patrons.find(ctx, "P0001")
    assert RemoteRequest.get_by_id(req_id).patron == patron.id


def test_pages_fit_a_phone_and_speak_vietnamese(app, ctx):
    reader = app.test_client()
    patron_login(reader)
    form = reader.get(f"/opac/requests/new?kind=postal_loan&bib={ctx.bibs[1].id}").text
    assert 'name="viewport"' in form or "viewport" in reader.get("/opac/").text
    assert "Địa chỉ nhận sách" in form
    assert "Yêu cầu của tôi" in reader.get("/opac/account").text


def test_a_request_keeps_the_language_the_patron_asked_in(app, ctx):
    """The e-mail that says a copy is ready is written in it (notices/texts.py)."""
    reader = app.test_client()
    patron_login(reader)
    asked = {}
    for lang in ("en", "vi"):
        token = csrf_token(reader, f"/opac/requests/new?kind=copy&bib={ctx.bibs[0].id}"
                                   f"&lang={lang}")
        r = reader.post(f"/opac/requests/new?kind=copy&bib={ctx.bibs[0].id}", data={
            "csrf_token": token, "pages": "1", "purpose": "học tập", "copyright": "1"})
        assert r.status_code == 302
        asked[lang] = RemoteRequest.select().order_by(RemoteRequest.placed_hlc.desc()).get()
    assert (asked["en"].lang, asked["vi"].lang) == ("en", "vi")
    program = app.test_client()  # an app on the patron's phone: its Accept-Language
    patron_login(program)
    api = program.post("/api/v1/requests", headers={"Accept-Language": "en-GB,en"}, json={
        "kind": "copy", "bib_id": ctx.bibs[1].id, "pages": "2", "purpose": "học tập",
        "copyright_accepted": True})
    assert RemoteRequest.get_by_id(api.json["id"]).lang == "en"
