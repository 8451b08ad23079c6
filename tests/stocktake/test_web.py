"""The stocktake pages through Flask's client: start, scans answered as JSON (what the
page's script asks) or as a page again (no script), finish, mark lost, put back, the
record exported; in Vietnamese, and to staff only."""

import re

from appliance.core import catalogue
from appliance.core.models import Item, Stocktake
from tests.conftest import staff_login
from tests.stocktake.records import check_record


def _start(client, token, **scope):
    r = client.post("/desk/stocktake/start", data={"csrf_token": token, **scope})
    assert r.status_code == 302
    return r.headers["Location"].rsplit("/", 1)[-1]


def _scan(client, token, st_id, **body):
    return client.post(f"/desk/stocktake/{st_id}/scan", json=body,
                       headers={"X-CSRF-Token": token, "Accept": "application/json"})


def test_a_stocktake_at_the_desk(ctx, client):
    catalogue.set_status(ctx, "1004", "lost")
    token = staff_login(client)
    home = client.get("/desk/stocktake/").text
    assert "Bắt đầu kiểm kê" in home and 'id="no-stocktakes"' in home
    st_id = _start(client, token, location="", call_from="", call_to="")
    page = client.get(f"/desk/stocktake/{st_id}").text
    assert "Quét mã vạch, hoặc đặt sách lên đầu đọc RFID" in page and "toàn bộ thư viện" in page

    first = _scan(client, token, st_id, barcode="1001").get_json()
    assert first["seen"] == 1
    assert first["answers"][0] | {"title": "Truyện Kiều"} == first["answers"][0]
    assert first["answers"][0]["message"] == "Đúng chỗ."
    assert _scan(client, token, st_id, barcode="1001").get_json()["answers"][0]["message"] \
        == "Đã đếm rồi."
    pad = _scan(client, token, st_id, tags=[{"barcode": "1002", "owner": "VN-PY-DH01"},
                                            {"barcode": "1004", "owner": "VN-PY-DH01"}])
    assert [a["verdict"] for a in pad.get_json()["answers"]] == ["ok", "found_lost"]
    assert _scan(client, "wrong", st_id, barcode="1003").status_code == 400  # CSRF
    # without the script: the form posts, the page comes back with the answer
    r = client.post(f"/desk/stocktake/{st_id}/scan", data={"csrf_token": token,
                                                           "barcode": "X-9"},
                    follow_redirects=True)
    assert "Không có bản sách nào ở đây mang mã này." in r.text

    done = client.post(f"/desk/stocktake/{st_id}/finish", data={"csrf_token": token},
                       follow_redirects=True).text
    assert "Đã kết thúc kiểm kê" in done and 'id="mark-lost"' in done
    assert re.search(r'id="c-missing">2<', done)
    late = _scan(client, token, st_id, barcode="1003")
    assert late.status_code == 409 and "đã kết thúc" in late.get_json()["error"]["message"]

    lost = client.post(f"/desk/stocktake/{st_id}/lost", data={"csrf_token": token},
                       follow_redirects=True).text
    assert "Đã ghi mất 2 bản sách thiếu." in lost
    assert Item.get(Item.barcode == "1003").condition == "lost"
    back = client.post(f"/desk/stocktake/{st_id}/back", data={"csrf_token": token,
                                                             "barcode": "1004"},
                       follow_redirects=True).text
    assert "Bản sách 1004 đã được đưa lại lên giá." in back
    assert Item.get(Item.barcode == "1004").condition == "available"

    xlsx = client.get(f"/desk/stocktake/{st_id}/record.xlsx")
    pdf = client.get(f"/desk/stocktake/{st_id}/record.pdf")
    assert xlsx.status_code == pdf.status_code == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert "kiem-ke-PY-DH01" in xlsx.headers["Content-Disposition"]
    check_record(xlsx.data, pdf.data, "Thư viện phường Hòa Hiệp Trung", ["1003", "1005"],
                 "thuthu")
    assert client.get(f"/desk/stocktake/{st_id}/record.docx").status_code == 404
    listed = client.get("/desk/stocktake/").text
    assert "đã kết thúc" in listed and Stocktake.select().count() == 1


def test_only_staff_take_stock(ctx, client):
    staff_login(client, "kiosk", landing="/kiosk/")
    assert client.get("/desk/stocktake/").status_code in (302, 403)
    assert Stocktake.select().count() == 0


def test_a_refusal_is_said_in_the_page(ctx, client):
    token = staff_login(client)
    r = client.post("/desk/stocktake/start", data={"csrf_token": token, "call_from": "900",
                                                   "call_to": "100"}, follow_redirects=True)
    assert "Khoảng ký hiệu xếp giá bị ngược" in r.text
    assert client.get("/desk/stocktake/khong-co").status_code == 404
