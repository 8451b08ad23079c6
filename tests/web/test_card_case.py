"""A card typed in lower case, or with spaces around it, is the card: at the desk, the
kiosk, the OPAC login, the API and a SIP2 machine alike (one key in core, findkeys)."""

import requests

from appliance.sip2.server import serve_in_thread
from tests.conftest import csrf_token, login_token, staff_login
from tests.kiosk.conftest import csrf
from tests.kiosk.conftest import login as kiosk_login
from tests.sip2.client import SipClient


def test_the_desk_finds_and_lends_to_a_card_typed_in_lower_case(client):
    token = staff_login(client)
    page = client.get("/desk/patrons/p0001").get_data(as_text=True)
    assert "Nguyễn Văn An" in page
    r = client.post("/desk/checkout", data={"csrf_token": token, "card": " p0001 ",
                                            "barcode": "1001"}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert 'class="flash success"' in page and "Truyện Kiều" in page


def test_the_kiosk_and_the_opac_take_a_card_in_lower_case(app):
    kiosk = kiosk_login(app.test_client())
    page = kiosk.post("/kiosk/identify", data={"csrf_token": csrf(kiosk), "card": " p0002"},
                      follow_redirects=True).get_data(as_text=True)
    assert "Trần Thị Bình" in page and 'data-mode="session"' in page
    reader = app.test_client()
    r = reader.post("/opac/login", data={"csrf_token": csrf_token(reader, "/opac/login"),
                                         "card": "p0002 ", "pin": "1234"})
    assert r.status_code == 302
    assert "Trần Thị Bình" in reader.get("/opac/account").get_data(as_text=True)


def test_the_api_and_sip2_take_a_card_in_lower_case(server, ctx):
    r = requests.get(f"{server.url}/api/v1/patrons/p0001", headers=login_token(server.url),
                     timeout=10)
    assert r.status_code == 200 and r.json()["card"] == "P0001"
    handle = serve_in_thread(ctx, "127.0.0.1", 0, idle_timeout=5)
    try:
        sip = SipClient("127.0.0.1", handle.port)
        assert sip.login("kiosk", "mat-khau-thu-vien").fixed == "1"
        status = sip.patron_status(ctx.library, "p0001", pin="1234")
        assert status.f("AE") == "Nguyễn Văn An" and status.f("BL") == "Y"
        sip.close()
    finally:
        handle.shutdown()
