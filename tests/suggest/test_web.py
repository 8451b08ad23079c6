"""What patrons and staff see of the suggestions, through the Flask app on real SQLite:
the API's two routes, the OPAC record page, the account's opt-in list, the kiosk
receipt's line."""

import pytest

from appliance.core import circulation, patrons
from appliance.core.suggest import build
from tests.conftest import csrf_token, login_token, staff_login
from tests.kiosk.conftest import csrf as kiosk_csrf
from tests.kiosk.conftest import login as kiosk_login
from tests.suggest import town


@pytest.fixture
def bibs(ctx):
    planted = town.build(ctx)
    build.build(ctx)
    return planted


def test_related_api_gives_up_to_ten_with_why(client, bibs):
    r = client.get(f"/api/v1/bibs/{bibs['Số đỏ'].id}/related")
    assert r.status_code == 200
    got = r.get_json()
    assert 0 < len(got) <= 10
    assert got[0] == {"bib_id": bibs["Tắt đèn"].id, "title": "Tắt đèn",
                      "why": "borrowed_together"}
    assert all(set(x) == {"bib_id", "title", "why"} for x in got)
    child = client.get(f"/api/v1/bibs/{bibs['Số đỏ'].id}/related?audience=child").get_json()
    assert all(x["why"] != "borrowed_together" for x in child)
    assert client.get("/api/v1/bibs/no-such-record/related").status_code == 404


def test_classification_api_is_for_staff_and_gives_evidence(client, server, bibs):
    url = "/api/v1/bibs/suggest-classification?title=K%C3%ADnh+v%E1%BA%A1n+hoa+5" \
          "&authors=Nguy%E1%BB%85n+Nh%E1%BA%ADt+%C3%81nh"
    assert client.get(url).status_code == 401
    token = login_token(server.url)
    r = client.get(url, headers=token)
    assert r.status_code == 200, r.get_data(as_text=True)
    got = r.get_json()
    assert got["ddc"][0] == {"class": "895", "ddc": "895.9223", "share": 1.0}
    assert got["subjects"][0] == "Truyện thiếu nhi"
    assert len(got["evidence"]) == 2 and got["evidence"][0]["title"].startswith("Kính vạn hoa")
    empty = client.get("/api/v1/bibs/suggest-classification?title=",
                       headers=token)
    assert empty.status_code == 400 and "nhan đề" in empty.get_json()["error"]["message"]
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/bibs/{bib_id}/related" in spec["paths"]
    assert "/bibs/suggest-classification" in spec["paths"]


def test_opac_record_page_shows_what_readers_also_borrowed(client, bibs):
    page = client.get(f"/opac/record/{bibs['Số đỏ'].id}").get_data(as_text=True)
    assert "Bạn đọc cũng mượn" in page
    section = page.split('id="also-borrowed"', 1)[1].split("</section>", 1)[0]
    assert "Tắt đèn" in section and "Bỉ vỏ" not in section
    assert "Sách liên quan" in page and "cùng chủ đề" in page  # Bỉ vỏ, alike
    lonely = client.get(f"/opac/record/{bibs['Kỹ thuật nuôi tôm'].id}").get_data(as_text=True)
    assert "Bạn đọc cũng mượn" not in lonely and "Sách liên quan" not in lonely


def _patron_login(client, card="P0001", pin="1234"):
    token = csrf_token(client, "/opac/login")
    client.post("/opac/login", data={"csrf_token": token, "card": card, "pin": pin})
    return csrf_token(client, "/opac/account")


def test_suggestions_for_you_only_for_a_patron_who_asked(client, ctx, bibs):
    circulation.checkout(ctx, "P0001", bibs_barcode(ctx, bibs["Số đỏ"]))
    token = _patron_login(client)
    page = client.get("/opac/account").get_data(as_text=True)
    assert "Gợi ý cho bạn" in page and 'id="suggested"' not in page
    r = client.post("/opac/account/suggestions", data={"csrf_token": token, "on": "1"},
                    follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "Đã bật gợi ý cho bạn" in page
    listed = page.split('id="suggested"', 1)[1].split("</ul>", 1)[0]
    assert "Tắt đèn" in listed and "Số đỏ" not in listed
    assert patrons.find(ctx, "P0001").suggestions is True
    client.post("/opac/account/suggestions", data={"csrf_token": token, "on": "0"})
    assert 'id="suggested"' not in client.get("/opac/account").get_data(as_text=True)


def bibs_barcode(ctx, bib):
    return bib.items.get().barcode


def test_kiosk_receipt_has_one_suggestion_line(app, ctx, bibs):
    kiosk = kiosk_login(app.test_client())
    token = kiosk_csrf(kiosk)
    kiosk.post("/kiosk/identify", data={"csrf_token": token, "card": "P0002"})
    kiosk.post("/kiosk/checkout", data={"csrf_token": token,
                                        "barcode": bibs_barcode(ctx, bibs["Số đỏ"])})
    page = kiosk.get("/kiosk/receipt").get_data(as_text=True)
    assert 'id="suggestion"' in page
    assert "Có thể bạn thích: Tắt đèn" in page


def test_cataloguing_form_offers_the_suggestion(client, bibs):
    staff_login(client)
    page = client.get("/desk/catalogue/new").get_data(as_text=True)
    assert 'id="suggest-class"' in page and "Gợi ý môn loại và chủ đề" in page
    assert "suggest.js" in page
