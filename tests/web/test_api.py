"""API v1 through a real waitress server on loopback, on SQLite and on PostgreSQL (the
town hub answers the same API)."""

import pytest
import requests

from appliance.core.models import Event
from tests.catalogue.backends import BACKENDS, library
from tests.conftest import login_token
from tests.factories import loans_fall_due_today


@pytest.fixture(params=BACKENDS)
def ctx(data_dir, request):
    with library(data_dir, request.param) as context:
        yield context


def api(server, method, path, headers=None, **kw):
    return requests.request(method, f"{server.url}/api/v1{path}", headers=headers, timeout=10,
                            **kw)


def test_health(server):
    r = api(server, "GET", "/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["library"] == "PY-DH01" and body["db"] == "ok"
    assert set(body) >= {"version", "role", "clock_ok", "pending_events", "last_sync"}


def test_checkout_return_renew_cycle(server, ctx):
    auth = login_token(server.url)
    r = api(server, "POST", "/checkouts", auth, json={"patron": "P0001", "item": "1001"})
    assert r.status_code == 201, r.text
    loan = r.json()
    assert loan["due_date"] and loan["loan_id"]
    r = api(server, "POST", "/renewals", auth, json={"item": "1001"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "renew_too_early"
    loans_fall_due_today(ctx)
    r = api(server, "POST", "/renewals", auth, json={"item": "1001"})
    assert r.status_code == 200 and r.json()["renewals_left"] == 1
    r = api(server, "GET", "/patrons/P0001", auth)
    assert [x["item"] for x in r.json()["loans"]] == ["1001"]
    r = api(server, "POST", "/checkins", auth, json={"item": "1001"})
    assert r.status_code == 200 and r.json()["loan_id"] == loan["loan_id"]
    assert api(server, "GET", "/items/1001").json()["status"] == "available"


def test_refusals_are_4xx_in_the_request_language_and_change_nothing(server):
    auth = login_token(server.url)
    api(server, "POST", "/checkouts", auth, json={"patron": "P0001", "item": "1001"})
    before = Event.select().count()
    r = api(server, "POST", "/checkouts", auth, json={"patron": "P0002", "item": "1001"})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "item_on_loan"
    vi = r.json()["error"]["message"]
    r = api(server, "POST", "/checkouts", dict(auth, **{"Accept-Language": "en"}),
            json={"patron": "P0002", "item": "1001"})
    assert r.json()["error"]["message"] == "1001 is on loan to someone else. Return it first."
    assert vi != r.json()["error"]["message"], "Vietnamese is the default"
    for payload, code in (({"patron": "P0001"}, "missing_field"),
                          ({"patron": "NOPE", "item": "1002"}, "patron_not_found")):
        r = api(server, "POST", "/checkouts", auth, json=payload)
        assert 400 <= r.status_code < 500 and r.json()["error"]["code"] == code
    r = api(server, "POST", "/checkouts", dict(auth, **{"Content-Type": "application/json"}),
            data="not json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"
    assert Event.select().count() == before


def test_create_patron_bib_item_and_hold(server):
    auth = login_token(server.url)
    r = api(server, "POST", "/patrons", auth, json={"card": "P0100", "name": "Lê Văn Tám",
                                                    "category": "adult"})
    assert r.status_code == 201 and r.json()["card"] == "P0100"
    r = api(server, "POST", "/bibs", auth, json={"title": "Nỗi buồn chiến tranh",
                                                 "authors": ["Bảo Ninh"], "year": 1990})
    assert r.status_code == 201
    bib_id = r.json()["id"]
    assert api(server, "GET", f"/bibs/{bib_id}").json()["authors"] == ["Bảo Ninh"]
    r = api(server, "POST", "/items", auth, json={"bib_id": bib_id, "barcode": "2001"})
    assert r.status_code == 201 and r.json()["status"] == "available"
    api(server, "POST", "/checkouts", auth, json={"patron": "P0001", "item": "2001"})
    r = api(server, "POST", "/holds", auth, json={"patron": "P0100", "bib_id": bib_id})
    assert r.status_code == 201 and r.json()["status"] == "waiting"
    r = api(server, "POST", "/checkins", auth, json={"item": "2001"})
    assert r.json()["hold"]["patron"] == "P0100"
    r = api(server, "DELETE", f"/holds/{r.json()['hold']['hold_id']}", auth)
    assert r.status_code == 200
    assert api(server, "GET", "/items/2001").json()["status"] == "available"


def test_login_failures_make_this_client_wait(server):
    for _ in range(5):
        r = api(server, "POST", "/session", json={"username": "thuthu", "password": "sai"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "bad_login"
    r = api(server, "POST", "/session", json={"username": "thuthu",
                                              "password": "mat-khau-thu-vien"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "login_wait"


def test_patron_reads_are_audited(server):
    from appliance.core.models import AuditEntry, Patron
    auth = login_token(server.url)
    api(server, "GET", "/patrons/P0002", auth)
    row = AuditEntry.select().order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).first()
    assert (row.username, row.action, row.patron) == (
        "thuthu", "patron.read", Patron.get(Patron.card == "P0002").id)


def test_openapi_lists_every_api_route(server, app):
    spec = api(server, "GET", "/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint.startswith("api."):
            path = rule.rule[len("/api/v1"):].replace("<", "{").replace(">", "}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                if path != "/openapi.json":
                    assert (path, method.lower()) in documented, (path, method)


def test_static_files_are_served_to_everyone(server):
    r = requests.get(f"{server.url}/static/app.css", timeout=10)
    assert r.status_code == 200 and "text/css" in r.headers["Content-Type"]


def test_security_headers_and_cookie_flags(server):
    r = requests.get(f"{server.url}/login", timeout=10)
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    cookie = r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
