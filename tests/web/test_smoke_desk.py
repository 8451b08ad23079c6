"""The desk through Flask's test client: log in, lend, return, refusals shown."""

import re

from tests.factories import PASSWORD


def csrf(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, username="thuthu"):
    token = csrf(client, "/login")
    r = client.post("/login", data={"username": username, "password": PASSWORD,
                                    "csrf_token": token})
    assert r.status_code == 302
    return csrf(client, "/desk/")  # a new token after login


def test_lend_and_return_at_the_desk(client, ctx):
    token = login(client)
    r = client.post("/desk/checkout", data={"card": "P0001", "barcode": "1001",
                                            "csrf_token": token}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "Truyện Kiều" in page and "cho mượn đến" in page.lower() or "lent until" in page
    r = client.post("/desk/checkin", data={"barcode": "1001", "csrf_token": token})
    assert "P0001" in r.get_data(as_text=True)


def test_form_without_csrf_token_changes_nothing(client, ctx):
    from appliance.core.models import Event
    login(client)
    before = Event.select().count()
    r = client.post("/desk/checkout", data={"card": "P0001", "barcode": "1001"})
    assert r.status_code == 400
    assert Event.select().count() == before
