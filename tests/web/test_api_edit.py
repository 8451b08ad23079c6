"""API v1 for the town's own tools: a copy of any library found at the hub, and PATCH of
records, cards and copies with the desk's rules, events and library authority. Through
a real server on loopback; the hub on SQLite and on PostgreSQL."""

import json

import requests

from appliance.core import catalogue, patrons, search
from appliance.core.models import Event, Item, Patron
from appliance.core.rights import keys
from tests.catalogue.backends import as_the_hub, town_fixtures
from tests.conftest import login_token
from tests.factories import LIB

OTHER = "PY-DH02"


def _other_library(ctx):
    """Besides its own, a card and a copy of library OTHER with the same card number and
    barcode as its own."""
    with as_the_hub(ctx):
        patrons.save(ctx, {"card": "P0001", "name": "Lê Thị Hai", "category": "adult"},
                     library=OTHER)
        catalogue.save_item(ctx, {"bib": ctx.bibs[1].id, "barcode": "1001", "library": OTHER,
                                  "location": "Kho B"})


hub, branch, hub_web, branch_web = town_fixtures(_other_library)


def api(server, method, path, auth=True, headers=None, **kw):
    sent = dict(server.auth if auth else {}, **(headers or {}))
    return requests.request(method, f"{server.url}/api/v1{path}", timeout=10, headers=sent,
                            **kw)


def _events():
    """The record edits held (a staff look at a card is an event too: core/audit.py)."""
    return Event.select().where(~(Event.kind << ("audit.viewed", "patron.key"))).count()


def _last(kind):
    event = Event.select().where(Event.kind == kind).order_by(Event.pos.desc()).first()
    return json.loads(event.body)


def test_the_hub_finds_a_copy_of_any_library(hub_web):
    web = hub_web
    mine = api(web, "GET", "/items/1001").json()
    theirs = api(web, "GET", "/items/1001", params={"library": OTHER}).json()
    assert mine["library"] == LIB and theirs["library"] == OTHER
    assert theirs["location"] == "Kho B" and theirs["id"] != mine["id"]
    assert api(web, "GET", "/items/1001", params={"library": "py-dh02"}).json()["id"] == \
        theirs["id"]  # as people type the code
    r = api(web, "GET", "/items/1001", params={"library": "PY-XX09"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "item_not_found"
    r = api(web, "GET", "/items/1001", params={"library": "<script>"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_library_code"
    r = api(web, "GET", "/patrons/P0001", params={"library": OTHER})
    assert r.json()["name"] == "Lê Thị Hai"


def test_patch_a_record_as_the_cataloguing_form_does(hub_web):
    web = hub_web
    bib = web.ctx.bibs[0]
    r = api(web, "PATCH", f"/bibs/{bib.id}", json={"title": "Truyện Kiều (bản mới)",
                                                    "year": 2020, "isbn": "604-0-00001-5",
                                                    "subjects": ["Thơ"]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["title"] == "Truyện Kiều (bản mới)" and out["year"] == 2020
    assert out["isbn"] == "6040000015" and out["authors"] == ["Nguyễn Du"]  # kept
    body = _last("bib.saved")
    assert body["id"] == bib.id and body["actor"] == "thuthu"
    assert body["fields"]["title"] == "Truyện Kiều (bản mới)"
    assert [h["title"] for h in search.search("ban moi")["results"]] == [out["title"]]
    r = api(web, "PATCH", f"/bibs/{bib.id}", json={"notes": None})  # null clears
    assert r.status_code == 200 and r.json()["notes"] is None


def test_patch_a_card_and_a_copy_of_another_library_at_the_hub(hub_web):
    web = hub_web
    r = api(web, "PATCH", "/patrons/P0001", params={"library": OTHER},
            json={"phone": "0905 123 456"})
    assert r.status_code == 200, r.text
    assert r.json()["library"] == OTHER and r.json()["phone"] == "0905 123 456"
    assert Patron.get((Patron.card == "P0001") & (Patron.library == LIB)).phone is None
    body = _last("patron.saved")  # the phone sealed with the card's key (core/rights)
    assert keys.opened(body["id"], body["fields"]) == ({"phone": "0905 123 456"}, ())
    assert body["actor"] == "thuthu"
    r = api(web, "PATCH", "/items/1001", params={"library": OTHER},
            json={"location": "Kho C", "status": "lost"})
    assert r.status_code == 200, r.text
    assert (r.json()["library"], r.json()["location"], r.json()["status"]) == (
        OTHER, "Kho C", "lost")
    assert Item.get((Item.barcode == "1001") & (Item.library == LIB)).location is None
    r = api(web, "PATCH", "/items/1001", json={"call_number": "895.922 NG-K"})
    assert r.status_code == 200 and r.json()["library"] == LIB


def test_bad_edits_are_clear_400s_and_change_nothing(hub_web):
    web = hub_web
    bib = web.ctx.bibs[0]
    before = _events()
    for path, payload, status, code in (
            (f"/bibs/{bib.id}", {"year": "2020abc"}, 400, "bad_field"),
            (f"/bibs/{bib.id}", {"year": 10**30}, 400, "bad_field"),
            (f"/bibs/{bib.id}", {"year": 1.5}, 400, "bad_field"),
            (f"/bibs/{bib.id}", {"year": 3000}, 400, "bad_year"),
            (f"/bibs/{bib.id}", {"authors": [["a"]]}, 400, "bad_field"),
            (f"/bibs/{bib.id}", {"title": ""}, 400, "title_required"),
            (f"/bibs/{bib.id}", {"title": None}, 400, "title_required"),
            (f"/bibs/{bib.id}", {"isbn": "123"}, 400, "bad_isbn"),
            (f"/bibs/{bib.id}", {"price": 5}, 400, "unknown_field"),
            (f"/bibs/{bib.id}", {"id": "x"}, 400, "unknown_field"),
            (f"/bibs/{bib.id}", {}, 400, "nothing_to_change"),
            ("/bibs/nope", {"title": "X"}, 404, "bib_not_found"),
            ("/patrons/P0001", {"category": "child"}, 400, "guardian_required"),
            ("/patrons/P0001", {"expiry": "31/12/2030"}, 400, "bad_date"),
            ("/patrons/P0001", {"card": "P0002"}, 400, "card_taken"),
            ("/patrons/P0001", {"pin": "12"}, 400, "bad_pin"),
            ("/patrons/P0001", {"blocked": True}, 400, "unknown_field"),
            ("/patrons/NOPE", {"name": "X"}, 404, "patron_not_found"),
            ("/items/1001", {"status": "on_loan"}, 400, "bad_status"),
            ("/items/1001", {"barcode": "a b"}, 400, "bad_barcode"),
            ("/items/1001", {"barcode": None}, 400, "bad_field"),
            ("/items/1001", {"item_type": "boat"}, 400, "bad_item_type"),
            ("/items/1001", {"library": OTHER}, 400, "unknown_field"),
            ("/items/1001", {"status": "lost", "item_type": "boat"}, 400, "bad_item_type"),
            ("/items/1002", {"barcode": "1003"}, 400, "barcode_taken")):
        r = api(web, "PATCH", path, json=payload)
        assert r.status_code == status, (path, payload, r.text)
        assert r.json()["error"]["code"] == code, (path, payload)
    for raw in ("[1]", "{", "[" * 1000 + "]" * 1000):
        r = api(web, "PATCH", f"/bibs/{bib.id}", data=raw,
                headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json", raw[:5]
    r = api(web, "PATCH", f"/bibs/{bib.id}", json={"year": "x"},
            headers={"Accept-Language": "vi"})
    assert r.json()["error"]["message"] == "year phải là số nguyên."
    assert api(web, "PATCH", f"/bibs/{bib.id}", auth=False, json={"title": "X"}
               ).status_code == 401
    assert _events() == before, "a refused edit records nothing"


def test_a_branch_edits_only_its_own_library(branch_web):
    web = branch_web
    before = _events()
    r = api(web, "PATCH", "/items/1001", params={"library": OTHER}, json={"location": "X"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "other_library"
    assert f"thuộc thư viện {OTHER}" in r.json()["error"]["message"]
    r = api(web, "PATCH", "/items/1001", params={"library": OTHER}, json={"status": "lost"})
    assert r.status_code == 403
    r = api(web, "PATCH", "/patrons/P0001", params={"library": OTHER}, json={"phone": "1"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "other_library"
    assert _events() == before
    # its own card and copy, and the union catalogue, it edits
    assert api(web, "PATCH", "/patrons/P0001", json={"phone": "0905"}).json()["library"] == LIB
    assert api(web, "PATCH", "/items/1001", json={"location": "Kệ 3"}).status_code == 200
    assert api(web, "PATCH", f"/bibs/{web.ctx.bibs[1].id}", json={"series": "Văn học"}
               ).status_code == 200
    assert _events() == before + 3
    kiosk = login_token(web.url, "kiosk")
    r = requests.patch(f"{web.url}/api/v1/items/1001", json={"location": "Y"}, headers=kiosk,
                       timeout=10)
    assert r.status_code == 403


def test_the_edits_are_in_the_openapi_document(hub_web):
    spec = api(hub_web, "GET", "/openapi.json").json()
    for path, fields in (("/bibs/{bib_id}", {"title", "year", "authors"}),
                         ("/patrons/{card}", {"name", "phone", "pin"}),
                         ("/items/{barcode}", {"location", "status"})):
        op = spec["paths"][path]["patch"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert fields <= set(schema["properties"]) and schema["additionalProperties"] is False
        assert op["security"] and "4XX" in op["responses"]
    names = {p["name"] for p in spec["paths"]["/items/{barcode}"]["get"]["parameters"]}
    assert names == {"barcode", "library"}
    search_params = {p["name"] for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert {"q", "page", "per_page", "year_from", "available"} <= search_params
