"""Fees through API v1, on a real server on loopback: a patron's fees and totals, a
charge, a payment and a waiver with the desk's commands, codes and words; refusals that
change nothing; roles. A branch (SQLite) holds, besides its own, a fee library OTHER
charged its patron, as sync brings it home, and may not settle it; the hub (SQLite and
PostgreSQL) acts for the town and settles any library's fee."""

import json
import uuid

import requests

from appliance.core import catalogue, circulation, datadir, events, policy
from appliance.core.models import AuditEntry, Event, Fee, FeePayment, Item, Patron
from appliance.core.verify import verify
from tests.catalogue.backends import as_the_hub, town_fixtures
from tests.conftest import csrf_token, login_token
from tests.factories import LIB

OTHER = "PY-DH02"
NAME = "Thư viện phường Hòa Hiệp Trung"
OTHER_NAME = "Thư viện trường THCS Lê Lợi"


def _lent_by_other(ctx, barcode, card, bib):
    """A copy of OTHER (its price 120.000 ₫) lent by OTHER to this library's `card`, as
    the hub holds such a loan: (the copy's id, the loan's id, the patron's id)."""
    item = catalogue.save_item(ctx, {"bib": bib.id, "barcode": barcode, "library": OTHER,
                                     "price": "120000"})
    patron = Patron.get((Patron.card == card) & (Patron.library == LIB))
    loan = str(uuid.uuid4())
    events.record(ctx, "loan.out", {
        "loan_id": loan, "item_id": item.id, "patron_id": patron.id, "library": OTHER,
        "due_date": "2030-01-01", "at": ctx.clock.iso_now(), "actor": "thuthu-b"},
        library=OTHER)
    return item.id, loan, patron.id


def _charged_by_other(ctx, item_id, loan_id, patron_id):
    """OTHER's charge for its copy lost by this library's patron, as it reaches the
    patron's home library and the hub (sync.receive.owed_at_home): the fee's id."""
    fee_id = str(uuid.uuid4())
    events.record(ctx, "fee.charged", {
        "fee_id": fee_id, "library": OTHER, "patron_id": patron_id, "item_id": item_id,
        "loan_id": loan_id, "kind": "lost", "amount": 120000, "at": ctx.clock.iso_now(),
        "actor": "thuthu-b"}, library=OTHER)
    return fee_id


def _owing_here_and_elsewhere(ctx):
    """This library's loan rules (a copy lost costs 150.000 ₫, any unpaid fee stops
    loans), P0001 lent its copy 1001 and P0002 its copy 1002, and OTHER's fee of
    120.000 ₫ for its copy 2001 that P0001 lost. At the hub P0001 also holds OTHER's
    copy 2002 (the hub holds every library's loans; a branch does not)."""
    policy.save_rule(ctx, LIB, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     replacement_fee=150000, fee_limit=0)
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkout(ctx, "P0002", "1002")
    at_hub = ctx.role == "hub"
    with as_the_hub(ctx):
        datadir.save_library(ctx, OTHER, OTHER_NAME)  # town-wide: every library has it
        ctx.other_fee = _charged_by_other(ctx, *_lent_by_other(ctx, "2001", "P0001",
                                                               ctx.bibs[2]))
        if at_hub:
            _lent_by_other(ctx, "2002", "P0001", ctx.bibs[3])


hub, branch, hub_web, branch_web = town_fixtures(_owing_here_and_elsewhere, NAME)


def api(web, method, path, auth=None, lang=None, headers=None, **kw):
    headers = dict(web.auth if auth is None else auth, **(headers or {}))
    if lang:
        headers["Accept-Language"] = lang
    return requests.request(method, f"{web.url}/api/v1{path}", headers=headers, timeout=10,
                            **kw)


def _state():
    """What a refusal must leave as it was: every fee, every copy's condition, and the
    events but the audit trail's (a staff read of a card is an event too)."""
    fees = sorted((f.id, f.library, f.state, f.amount, f.settled_by, f.reason)
                  for f in Fee.select())
    copies = sorted((i.barcode, i.library, i.condition) for i in Item.select())
    made = Event.select().where(~(Event.kind << ("audit.viewed", "patron.key"))).count()
    return fees, copies, made


def conforms(value, schema, where="answer"):
    """`value` has the shape the OpenAPI document gives (the subset of JSON Schema it
    uses: type, possibly with null, required, properties, items, enum)."""
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    python = {"string": str, "integer": int, "boolean": bool, "array": list,
              "object": dict, "null": type(None)}
    assert any(isinstance(value, python[k]) and not (k == "integer" and isinstance(
        value, bool)) for k in kinds), (where, value, kinds)
    if "enum" in schema:
        assert value in schema["enum"], (where, value)
    if isinstance(value, dict):
        assert set(schema.get("required", ())) <= set(value), (where, value)
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                conforms(value[name], sub, f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for n, x in enumerate(value):
            conforms(x, schema["items"], f"{where}[{n}]")


def _answer_schema(web, path, method):
    spec = api(web, "GET", "/openapi.json").json()
    op = spec["paths"][path][method]
    ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
    return ok["content"]["application/json"]["schema"]


def test_charge_list_pay_and_waive_at_the_branch(branch_web):
    web = branch_web
    r = api(web, "POST", "/fees", json={"item": "1001", "kind": "lost"})
    assert r.status_code == 201, r.text
    lost = r.json()
    conforms(lost, _answer_schema(web, "/fees", "post"))
    assert {k: lost[k] for k in ("patron", "library", "library_name", "item", "title", "kind",
                                 "amount", "currency", "state", "charged_by",
                                 "settled_at", "payable_here")} == {
        "patron": "P0001", "library": LIB, "library_name": NAME, "item": "1001",
        "title": "Truyện Kiều", "kind": "lost", "amount": 150000, "currency": "VND",
        "state": "open", "charged_by": "thuthu", "settled_at": None, "payable_here": True}
    assert Item.get((Item.barcode == "1001") & (Item.library == LIB)).condition == "lost"

    r = api(web, "GET", "/patrons/P0001/fees")
    assert r.status_code == 200, r.text
    statement = r.json()
    conforms(statement, _answer_schema(web, "/patrons/{card}/fees", "get"))
    assert statement["card"] == "P0001"
    by_id = {f["id"]: f for f in statement["fees"]}
    assert set(by_id) == {lost["id"], web.ctx.other_fee}
    theirs = by_id[web.ctx.other_fee]
    assert (theirs["library"], theirs["library_name"], theirs["item"], theirs["title"],
            theirs["amount"], theirs["state"], theirs["payable_here"]) == (
        OTHER, OTHER_NAME, "2001", "Dế Mèn phiêu lưu ký", 120000, "open", False)
    assert statement["totals"] == {
        "owed": 270000, "open": 2, "owed_here": 150000, "owed_elsewhere": 120000,
        "limit": 0, "over_limit": True,
        "elsewhere": [{"library": OTHER, "library_name": OTHER_NAME, "amount": 120000}]}
    seen = AuditEntry.select().order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).first()
    assert (seen.username, seen.action) == ("thuthu", "patron.fees")

    r = api(web, "POST", f"/fees/{lost['id']}/payments", json={"amount": 150000})
    assert r.status_code == 200, r.text
    paid = r.json()
    conforms(paid, _answer_schema(web, "/fees/{fee_id}/payments", "post"))
    assert (paid["state"], paid["settled_by"], paid["amount"]) == ("paid", "thuthu", 150000)
    assert paid["settled_at"]
    assert Fee.get_by_id(lost["id"]).state == "paid"
    totals = api(web, "GET", "/patrons/P0001/fees").json()["totals"]
    assert (totals["owed"], totals["owed_here"], totals["owed_elsewhere"]) == (120000, 0,
                                                                               120000)

    damaged = api(web, "POST", "/fees", json={"item": "1002", "kind": "damaged"}).json()
    assert (damaged["patron"], damaged["kind"], damaged["amount"]) == ("P0002", "damaged",
                                                                       150000)
    assert api(web, "GET", "/items/1002").json()["status"] == "damaged"  # taken back
    r = api(web, "POST", f"/fees/{damaged['id']}/waiver", json={"reason": "Sách đã cũ"})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["reason"]) == ("waived", "Sách đã cũ")
    assert verify(web.ctx) == []


def test_a_payment_may_leave_out_the_amount(branch_web):
    web = branch_web
    fee = api(web, "POST", "/fees", json={"item": "1001", "kind": "lost"}).json()
    r = api(web, "POST", f"/fees/{fee['id']}/payments")  # no body at all
    assert r.status_code == 200 and r.json()["state"] == "paid", r.text
    fee = api(web, "POST", "/fees", json={"item": "1002", "kind": "lost"}).json()
    r = api(web, "POST", f"/fees/{fee['id']}/payments", json={})
    assert r.status_code == 200 and r.json()["state"] == "paid", r.text


def test_a_copys_price_is_kept_through_the_api_and_charged_when_it_is_lost(branch_web):
    """The price a lost copy costs (before the rule's replacement fee) is the API's to
    set on a copy and to read back, as the desk's copy form does; what is no whole number
    of đồng is refused and changes nothing."""
    web = branch_web
    before = api(web, "GET", "/items/1001").json()
    for bad in ("85.000", -5, 1.5, True):
        r = api(web, "PATCH", "/items/1001", json={"price": bad})
        assert r.status_code == 400 and r.json()["error"]["code"] in (
            "bad_field", "bad_price"), (bad, r.text)
    assert api(web, "GET", "/items/1001").json() == before
    r = api(web, "PATCH", "/items/1001", json={"price": 85000})
    assert r.status_code == 200 and r.json()["price"] == 85000, r.text
    assert api(web, "GET", "/items/1001").json()["price"] == 85000
    lost = api(web, "POST", "/fees", json={"item": "1001", "kind": "lost"}).json()
    assert lost["amount"] == 85000
    assert api(web, "PATCH", "/items/1002", json={"price": None}).json()["price"] is None


def test_refusals_give_the_desks_codes_and_words_and_change_nothing(branch_web):
    web = branch_web
    own = api(web, "POST", "/fees", json={"item": "1001", "kind": "lost"}).json()["id"]
    other = web.ctx.other_fee
    before = _state()
    for method, path, payload, status, code in (
            ("POST", f"/fees/{other}/payments", {"amount": 120000}, 403, "other_library"),
            ("POST", f"/fees/{other}/payments", None, 403, "other_library"),
            ("POST", f"/fees/{other}/waiver", {"reason": "tìm thấy"}, 403, "other_library"),
            ("POST", f"/fees/{own}/payments", {"amount": 150001}, 409, "over_balance"),
            ("POST", f"/fees/{own}/payments", {"amount": 0}, 400, "bad_amount"),
            ("POST", f"/fees/{own}/payments", {"amount": -5}, 400, "bad_amount"),
            ("POST", f"/fees/{own}/payments", {"amount": "150000"}, 400, "bad_field"),
            ("POST", f"/fees/{own}/payments", {"amount": 150000.5}, 400, "bad_field"),
            ("POST", f"/fees/{own}/waiver", {}, 400, "reason_required"),
            ("POST", f"/fees/{own}/waiver", {"reason": "  "}, 400, "reason_required"),
            ("POST", f"/fees/{own}/waiver", {"reason": "x" * 256}, 400, "too_long"),
            ("POST", f"/fees/{own}/waiver", {"reason": 5}, 400, "bad_field"),
            ("POST", "/fees/nope/payments", {"amount": 1}, 404, "fee_not_found"),
            ("POST", "/fees/nope/waiver", {"reason": "x"}, 404, "fee_not_found"),
            ("POST", "/fees", {"item": "1001", "kind": "lost"}, 409, "fee_charged"),
            ("POST", "/fees", {"item": "1003", "kind": "lost"}, 409, "not_on_loan"),
            ("POST", "/fees", {"item": "1002", "kind": "stolen"}, 400, "bad_fee_kind"),
            ("POST", "/fees", {"item": "2001", "kind": "lost"}, 403, "other_library"),
            ("POST", "/fees", {"item": "9999", "kind": "lost"}, 404, "item_not_found"),
            ("POST", "/fees", {"kind": "lost"}, 400, "missing_field"),
            ("GET", "/patrons/NOPE/fees", None, 404, "patron_not_found")):
        r = api(web, method, path, json=payload)
        assert r.status_code == status, (path, payload, r.text)
        assert r.json()["error"]["code"] == code, (path, payload)
    for path in (f"/fees/{own}/waiver", "/fees", f"/fees/{own}/payments"):
        r = api(web, "POST", path, data="{", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json", path
    assert _state() == before, "a refusal changes nothing"

    words = {lang: api(web, "POST", f"/fees/{other}/payments", lang=lang).json()["error"]
             ["message"] for lang in ("vi", "en")}
    assert words == {  # as the desk refuses it
        "vi": f"Khoản phí này do thư viện {OTHER} tính: chỉ thu hoặc miễn tại đó.",
        "en": f"This fee was charged by library {OTHER}: it is paid or waived there."}
    r = api(web, "POST", f"/fees/{own}/payments", json={"amount": 150500})
    assert r.json()["error"]["message"] == ("150.500 ₫ nhiều hơn số còn nợ: số dư là "
                                            "150.000 ₫.")
    assert api(web, "POST", f"/fees/{own}/waiver", lang="en", json={}).json()["error"][
        "message"] == "Say why the fee is waived."

    assert api(web, "POST", f"/fees/{own}/payments").status_code == 200
    settled = _state()
    for path, payload in ((f"/fees/{own}/payments", {"amount": 150000}),
                          (f"/fees/{own}/waiver", {"reason": "nhầm"})):
        r = api(web, "POST", path, json=payload, lang="en")
        assert r.status_code == 409 and r.json()["error"] == {
            "code": "fee_settled", "message": "This fee is settled already."}
    assert _state() == settled
    assert Fee.get_by_id(other).state == "open"


def test_a_kiosk_a_patron_and_nobody_may_not_charge_pay_or_waive(branch_web):
    web = branch_web
    own = api(web, "POST", "/fees", json={"item": "1001", "kind": "lost"}).json()["id"]
    before = _state()
    calls = (("POST", "/fees", {"item": "1002", "kind": "lost"}),
             ("POST", f"/fees/{own}/payments", {"amount": 150000}),
             ("POST", f"/fees/{own}/waiver", {"reason": "x"}),
             ("GET", "/patrons/P0001/fees", None))
    kiosk = login_token(web.url, "kiosk")
    reporter = login_token(web.url, "baocao")
    for method, path, payload in calls:
        for auth in (kiosk, reporter):
            r = api(web, method, path, auth=auth, json=payload)
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", path
        r = api(web, method, path, auth={}, json=payload)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorised", path
    patron = web.app.test_client()  # the patron's own OPAC login
    token = csrf_token(patron, "/opac/login")
    assert patron.post("/opac/login", data={"csrf_token": token, "card": "P0001",
                                            "pin": "1234"}).status_code == 302
    for method, path, payload in calls:
        r = patron.open(f"/api/v1{path}", method=method, json=payload)
        assert r.status_code == 403, (path, r.status_code)
    assert _state() == before


def test_the_hub_charges_takes_and_waives_any_librarys_fee(hub_web):
    web = hub_web
    other = web.ctx.other_fee
    statement = api(web, "GET", "/patrons/P0001/fees").json()
    theirs = next(f for f in statement["fees"] if f["id"] == other)
    assert theirs["library"] == OTHER and theirs["payable_here"] is True
    assert statement["totals"]["owed_elsewhere"] == 0 and statement["totals"]["elsewhere"] == []
    assert statement["totals"]["owed_here"] == 120000

    r = api(web, "POST", "/fees", json={"item": "2002", "kind": "damaged"})
    assert r.status_code == 201, r.text
    charged = r.json()
    assert (charged["library"], charged["item"], charged["amount"], charged["patron"]) == (
        OTHER, "2002", 120000, "P0001")

    r = api(web, "POST", f"/fees/{other}/payments", json={"amount": 120001})
    assert r.status_code == 409 and r.json()["error"]["code"] == "over_balance"
    r = api(web, "POST", f"/fees/{other}/payments", json={"amount": 20000})
    assert r.status_code == 200 and r.json()["state"] == "open", r.text
    assert (r.json()["paid"], r.json()["balance"]) == (20000, 100000)
    r = api(web, "POST", f"/fees/{other}/payments", json={"amount": 100000})
    assert r.status_code == 200 and r.json()["state"] == "paid", r.text
    r = api(web, "POST", f"/fees/{charged['id']}/waiver", json={"reason": "Thiên tai"})
    assert r.status_code == 200 and r.json()["state"] == "waived", r.text
    settlements = sorted((json.loads(e.body)["fee_id"], e.kind, e.library) for e in Event
                         .select().where(Event.kind << ("fee.paid", "fee.waived")))
    assert settlements == sorted([(other, "fee.paid", OTHER),  # the charging library's
                                  (other, "fee.paid", OTHER),  # name, in two parts
                                  (charged["id"], "fee.waived", OTHER)])
    taken = sorted((p.kind, p.amount, p.library) for p in FeePayment.select().where(
        FeePayment.fee == other))  # each part a row of the fee's, taken at the hub
    assert taken == [("payment", 20000, web.ctx.library), ("payment", 100000, web.ctx.library)]
    assert web.ctx.library != OTHER
    assert api(web, "GET", "/patrons/P0001/fees").json()["totals"]["owed"] == 0
    assert verify(web.ctx) == []


def test_the_hub_is_told_which_librarys_copy_when_libraries_share_a_barcode(hub_web):
    """Barcodes are unique within a library only: at the hub, which holds every
    library's copies, a barcode two libraries use is refused without `library` (409,
    naming both) and charged to the copy of the library named, or of the id given."""
    web = hub_web
    catalogue.save_item(web.ctx, {"bib": web.ctx.bibs[0].id, "barcode": "2002"})  # LIB's
    theirs = Item.get((Item.barcode == "2002") & (Item.library == OTHER))
    before = _state()
    r = api(web, "POST", "/fees", json={"item": "2002", "kind": "lost"})
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "barcode_in_many_libraries"
    assert LIB in error["message"] and OTHER in error["message"]
    vi = api(web, "POST", "/fees", lang="vi", json={"item": "2002", "kind": "lost"})
    assert vi.json()["error"]["message"] == (
        f"Mã vạch 2002 có trên bản sách của nhiều thư viện ({LIB}, {OTHER}): hãy cho biết "
        "bản sách của thư viện nào.")
    r = api(web, "POST", "/fees", json={"item": "2002", "library": LIB, "kind": "lost"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_on_loan"
    r = api(web, "POST", "/fees", json={"item": "2002", "library": "PY-NONE", "kind": "lost"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "item_not_found_at"
    assert _state() == before
    r = api(web, "POST", "/fees", json={"item_id": theirs.id, "kind": "lost"})
    assert r.status_code == 201, r.text
    assert (r.json()["library"], r.json()["item"]) == (OTHER, "2002")
    r = api(web, "POST", "/fees", json={"item": "2002", "library": OTHER.lower(),
                                         "kind": "damaged"})
    assert r.status_code == 201 and r.json()["library"] == OTHER, r.text
    assert Item.get_by_id(theirs.id).condition == "damaged"
    assert verify(web.ctx) == []


def test_the_fee_routes_are_in_the_openapi_document(branch_web):
    spec = api(branch_web, "GET", "/openapi.json").json()
    paths = spec["paths"]
    body = paths["/fees"]["post"]["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert schema["required"] == ["kind"] and {"item", "library", "item_id"} <= set(
        schema["properties"])
    assert schema["properties"]["kind"]["enum"] == ["lost", "damaged"]
    payment = paths["/fees/{fee_id}/payments"]["post"]["requestBody"]
    assert payment["required"] is False  # the amount may be left out
    assert payment["content"]["application/json"]["schema"]["properties"]["amount"] == {
        "type": "integer"}
    waiver = paths["/fees/{fee_id}/waiver"]["post"]["requestBody"]
    assert waiver["content"]["application/json"]["schema"]["required"] == ["reason"]
    listing = paths["/patrons/{card}/fees"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"card", "library"}
    for path, method in (("/fees", "post"), ("/fees/{fee_id}/payments", "post"),
                         ("/fees/{fee_id}/waiver", "post"), ("/patrons/{card}/fees", "get")):
        op = paths[path][method]
        assert op["security"] and "4XX" in op["responses"], path
    assert paths["/checkins"]["post"]["requestBody"]["required"] is True  # as before
