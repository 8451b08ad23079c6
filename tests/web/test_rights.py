"""Patrons' rights on the web: the OPAC's download of my data, the desk's download and
erasure, the API's export and who may ask it, the reading history staff no longer see,
and every staff view of a patron's personal data leaving an audit entry."""

import json
from datetime import timedelta

from appliance.core import circulation, holds, patrons, users
from appliance.core.models import AuditEntry, Bib, Item, Loan, Patron
from tests.conftest import PASSWORD, csrf_token, staff_login

NAME = "Nguyễn Văn An"


def _patron_login(client, card="P0001", pin="1234"):
    token = csrf_token(client, "/opac/login")
    r = client.post("/opac/login", data={"csrf_token": token, "card": card, "pin": pin})
    assert r.status_code == 302


def test_a_patron_downloads_their_data_from_the_opac(client, ctx):
    circulation.checkout(ctx, "P0001", "1001")
    assert client.get("/opac/account/export.json").status_code in (302, 401)
    _patron_login(client)
    page = client.get("/opac/account").get_data(as_text=True)
    assert "Tải dữ liệu của tôi (PDF)" in page
    r = client.get("/opac/account/export.json")
    data = json.loads(r.get_data(as_text=True))
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert data["profile"]["name"] == NAME and data["loans"][0]["barcode"] == "1001"
    pdf = client.get("/opac/account/export.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def _pdf_text(data):
    from io import BytesIO

    from pypdf import PdfReader
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(BytesIO(data)).pages)


def test_the_pdf_of_my_data_says_its_fees_and_holds_in_vietnamese(client, ctx):
    """What the codes mean, in the reader's words: a fee's kind and state, how much is
    paid and owed in đồng, a hold's state; never a field's English name."""
    from appliance.core import policy
    from appliance.core.fees import commands as fees

    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     replacement_fee=80000)
    holds.place(ctx, "P0001", Item.get(Item.barcode == "1002").bib_id)
    circulation.checkout(ctx, "P0001", "1001")
    fees.pay(ctx, fees.declare(ctx, "1001", "lost").id, amount=30000)
    _patron_login(client)
    text = _pdf_text(client.get("/opac/account/export.pdf").data)
    for said in ("Phí bồi thường", "Loại: Mất sách", "Số tiền: 80.000 ₫", "Đã trả: 30.000 ₫",
                 "Còn nợ: 50.000 ₫", "Tình trạng: Chưa trả", "Đang chờ", "Người lớn"):
        assert said in text, said
    for code in ("balance", "charged_at", "lost", "open", "waiting", "adult", "+07:00"):
        assert code not in text, code
    today = ctx.clock.today().strftime("%d/%m/%Y")
    assert f"Ngày tính phí: {today}" in text  # dates as readers write them


def test_a_guardian_downloads_the_childs_data_through_the_childs_account(client, ctx):
    _patron_login(client, "C0001")
    data = client.get("/opac/account/export.json").get_json()
    assert data["profile"]["category"] == "child" and data["profile"]["guardian"]


def test_staff_download_and_erase_at_the_desk(client, ctx):
    token = staff_login(client)
    circulation.checkout(ctx, "P0001", "1001")
    page = client.get("/desk/patrons/P0001").get_data(as_text=True)
    assert "Xoá bạn đọc" in page and "Tải dữ liệu của bạn đọc (PDF)" in page
    assert client.get("/desk/patrons/P0001/export.json").get_json()["profile"]["name"] == NAME
    r = client.post("/desk/patrons/P0001/erase", data={"csrf_token": token, "confirm": "P0001"},
                    follow_redirects=True)
    assert "còn 1 cuốn đang mượn" in r.get_data(as_text=True)
    circulation.checkin(ctx, "1001")
    r = client.post("/desk/patrons/P0001/erase", data={"csrf_token": token, "confirm": "nhầm"},
                    follow_redirects=True)
    assert "Gõ số thẻ để xác nhận" in r.get_data(as_text=True)
    assert patrons.find(ctx, "P0001").name == NAME
    r = client.post("/desk/patrons/P0001/erase", data={"csrf_token": token, "confirm": "P0001"},
                    follow_redirects=True)
    assert "đã được xoá" in r.get_data(as_text=True)
    assert client.get("/desk/patrons/P0001").status_code == 404
    assert not Patron.select().where(Patron.name == NAME).exists()


def test_the_api_export_is_the_patrons_own_or_their_librarys_staff(client, ctx):
    users.create(ctx, "khac", PASSWORD, "librarian", library="PY-KHAC")

    def token(username):
        r = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
        return {"Authorization": f"Bearer {r.get_json()['token']}"}

    r = client.get("/api/v1/patrons/P0001/export", headers=token("thuthu"))
    assert r.status_code == 200 and r.get_json()["profile"]["name"] == NAME
    assert client.get("/api/v1/patrons/P0001/export?format=pdf",
                      headers=token("thuthu")).data.startswith(b"%PDF")
    r = client.get("/api/v1/patrons/P0001/export", headers=token("khac"))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_yours"
    assert client.get("/api/v1/patrons/P0001/export").status_code == 401
    _patron_login(client, "P0002")
    assert client.get("/api/v1/patrons/P0002/export").get_json()["profile"]["card"] == "P0002"
    assert client.get("/api/v1/patrons/P0001/export").status_code == 403
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/patrons/{card}/export" in spec["paths"]


def test_staff_do_not_see_the_returns_of_a_patron_who_keeps_no_history(client, ctx):
    staff_login(client)
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkin(ctx, "1001")
    title = Item.get(Item.barcode == "1001").bib.title
    assert title not in client.get("/desk/patrons/P0001").get_data(as_text=True)
    item_page = client.get("/desk/items/1001").get_data(as_text=True)
    assert "P0001" not in item_page and NAME not in item_page
    patrons.save(ctx, {"id": patrons.find(ctx, "P0001").id, "keep_history": True})
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkin(ctx, "1001")
    assert title in client.get("/desk/patrons/P0001").get_data(as_text=True)


def _audited(action, patron_id):
    return AuditEntry.select().where((AuditEntry.action == action)
                                     & (AuditEntry.patron == patron_id)
                                     & (AuditEntry.username == "thuthu")).exists()


def test_every_staff_view_of_a_patron_is_audited(client, ctx):
    """Walk every view that shows a patron's personal data: each leaves an entry naming
    the staff account and the patron, and the audit page finds it by either."""
    token = staff_login(client)
    p1, p2 = patrons.find(ctx, "P0001"), patrons.find(ctx, "P0002")
    circulation.checkout(ctx, "P0001", "1001")
    Loan.update(due_date=(ctx.clock.today() - timedelta(days=3)).isoformat()).execute()
    other = Item.get(Item.barcode == "1002")
    holds.place(ctx, "P0002", other.bib_id)  # a copy on the shelf: on the pull list
    views = [("/desk/patrons", "patrons.list", p1), ("/desk/patrons?q=an", "patrons.search", p1),
             ("/desk/patrons/P0001", "patron.read", p1),
             ("/desk/patrons/P0001/edit", "patron.edit_form", p1),
             ("/desk/overdue", "overdue", p1), ("/desk/items/1001", "copy.borrower", p1),
             ("/desk/holds/pull", "holds.pull", p2),
             ("/desk/patrons/P0001/export.json", "patron.export", p1)]
    for path, action, patron in views:
        assert not _audited(action, patron.id), path
        assert client.get(path).status_code == 200, path
        assert _audited(action, patron.id), path
    assert client.get(f"/desk/bibs/{other.bib_id}").status_code == 200  # its hold queue
    assert _audited("bib.holds", p2.id)
    client.post("/desk/checkin", data={"csrf_token": token, "barcode": "1002"})
    assert _audited("checkin", p2.id)  # the slip names the patron the hold waits for
    assert client.get("/desk/holds").status_code == 200
    assert _audited("holds.shelf", p2.id)
    api = {"Authorization": "Bearer " + client.post("/api/v1/session", json={
        "username": "thuthu", "password": PASSWORD}).get_json()["token"]}
    assert client.get("/api/v1/patrons/P0002", headers=api).status_code == 200
    assert _audited("patron.read", p2.id)
    Loan.update(due_date=ctx.clock.today().isoformat()).execute()
    r = client.post("/api/v1/renewals", json={"item": "1001"}, headers=api)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert _audited("api.renewal", p1.id)
    # the views other parts added: the notices due and their slips, a postal request
    from appliance.core.requests import commands as requests
    req = requests.place(ctx, p2, "postal_loan", bib_id=other.bib_id,
                         address="12 Trần Hưng Đạo, phường 1, Tuy Hòa")
    requests.accept(ctx, req.id)
    for path, action, patron in [
            ("/desk/notices", "notices.due", p2), ("/desk/notices/slips.pdf", "notices.slips", p2),
            (f"/desk/requests/{req.id}", "request.read", p2),
            (f"/desk/requests/{req.id}/label.pdf", "request.label", p2),
            ("/desk/requests/labels.pdf", "requests.labels", p2)]:
        assert not _audited(action, patron.id), path
        assert client.get(path).status_code == 200, path
        assert _audited(action, patron.id), path
    # the branch admin reads who looked at whom, filtered by staff account and card
    staff_login(client, "quanly")
    page = client.get("/desk/audit?username=thuthu&card=P0002").get_data(as_text=True)
    table = page[page.index('<table id="audit">'):]
    assert "<td>holds.pull</td>" in table and "<td>P0002</td>" in table
    assert "<td>overdue</td>" not in table and "<td>P0001</td>" not in table
    assert Bib.select().count()  # (the records the walk used are still there)


def test_a_hub_admin_reads_who_looked_at_whom_across_the_town(client, ctx, tmp_path):
    """The looks are events: they reach the hub with the branch's batch, and the hub's
    audit page lists them, filtered by staff account and by card."""
    from appliance.core import audit, events
    from appliance.core.models import Event, database_proxy
    from appliance.web import create_app
    from tests.factories import make_library

    audit.log(ctx, "thuthu", "patron.read", patrons.find(ctx, "P0001").id)
    audit.seen(ctx, "quanly", "overdue", [patrons.find(ctx, "P0002")])
    batch = [events.to_dict(e) for e in Event.select().order_by(Event.pos)]
    hub = make_library(tmp_path / "hub", "PY-TV00", role="hub")
    try:
        events.ingest(hub, batch)
        users.create(hub, "tinh", PASSWORD, "hub_admin")
        web = create_app(hub, testing=True).test_client()
        staff_login(web, "tinh")
        page = web.get("/desk/audit?username=thuthu").get_data(as_text=True)
        table = page[page.index('<table id="audit">'):]
        assert "<td>P0001</td>" in table and "<td>PY-DH01</td>" in table
        assert "quanly" not in table
        table = web.get("/desk/audit?card=P0002").get_data(as_text=True)
        assert "<td>overdue</td>" in table and "<td>quanly</td>" in table
    finally:
        hub.close()
        database_proxy.initialize(ctx.db)
