"""The OpenAPI 3.1 document of API v1, built from one table of routes; the request
bodies it documents are also what the routes check (`checked`)."""

from ... import __version__
from ...core.errors import N_, Invalid
from ...core.fees.commands import DECLARED, KINDS


def _obj(*required, **props):
    return {"type": "object", "required": list(required),
            "properties": {k: {"type": v} for k, v in props.items()}}


def _patch(schema):
    """The same fields, none required, unknown ones refused, null clears a field."""
    return {"type": "object", "required": [], "additionalProperties": False,
            "minProperties": 1,
            "properties": {k: {"type": [v["type"], "null"]}
                           for k, v in schema["properties"].items()}}


ERROR = {"type": "object", "properties": {"error": _obj("code", "message", code="string",
                                                          message="string")}}
OBJ = {"type": "object"}
PATRON = _obj("card", "name", "category", card="string", name="string", category="string",
              expiry="string", birth_year="integer", guardian="string",
              guardian_consent="boolean", phone="string", email="string", pin="string",
              keep_history="boolean", school_class="string", birth_date="string",
              suggestions="boolean")
BIB = _obj("title", title="string", authors="array", publisher="string", year="integer",
           isbn="string", language="string", ddc="string", subjects="array", series="string",
           notes="string")
# `price`: a copy's price in whole đồng, what a lost or damaged copy is charged when the
# loan rule sets no replacement fee (core/fees)
ITEM = _obj("bib_id", "barcode", bib_id="string", barcode="string", item_type="string",
            location="string", call_number="string", library="string",
            accession_date="string", price="integer")
ITEM_EDIT = _obj(barcode="string", item_type="string", location="string",
                 call_number="string", status="string", accession_date="string",
                 price="integer")
# staff declare a copy lost or damaged; a late return charges "overdue" itself
FEE_KINDS = {"type": "string", "enum": list(KINDS)}
CHARGE = {"type": "object", "required": ["kind"],
          "properties": {"item": {"type": "string"}, "library": {"type": "string"},
                         "item_id": {"type": "string"},
                         "kind": {"type": "string", "enum": list(DECLARED)}}}


def _answer(required, **props):
    """A response's schema: every property listed is always there (null where it says)."""
    return {"type": "object", "required": list(required),
            "properties": {k: v if isinstance(v, dict) else {"type": v}
                           for k, v in props.items()}}


FEE = _answer(["id", "patron", "library", "kind", "amount", "state", "payable_here"],
              id="string", patron="string", library="string", library_name="string",
              item=["string", "null"], title=["string", "null"], kind=FEE_KINDS,
              amount="integer", paid="integer", waived="integer", balance="integer",
              currency="string", state={"type": "string", "enum": ["open", "paid", "waived"]},
              charged_at="string", charged_by=["string", "null"],
              settled_at=["string", "null"], settled_by=["string", "null"],
              reason=["string", "null"], payable_here="boolean")
OWED_AT = _answer(["library", "amount"], library="string", library_name="string",
                  amount="integer")
FEES = _answer(["card", "fees", "totals"], card="string", currency="string",
               fees={"type": "array", "items": FEE},
               totals=_answer(["owed", "owed_here", "owed_elsewhere", "limit"],
                              owed="integer", open="integer", owed_here="integer",
                              owed_elsewhere="integer", limit="integer",
                              over_limit="boolean",
                              elsewhere={"type": "array", "items": OWED_AT}))
LIBRARY = {"name": "library", "in": "query", "required": False, "schema": {"type": "string"},
           "description": "The library holding the copy or card (at the hub: any library "
                          "of the town; by default this device's own)"}

# path, method, summary, auth, request schema, success status
ROUTES = [
    ("/health", "get", "Health of this appliance", False, None, 200),
    ("/session", "post", "Log in: a bearer token", False,
     _obj("username", "password", username="string", password="string"), 200),
    ("/patrons", "post", "Register a patron", True, PATRON, 201),
    ("/patrons/{card}", "get", "A patron and their loans (audited)", True, None, 200),
    ("/patrons/{card}", "patch", "Edit a patron (as at the desk: this library's cards only, "
     "at the hub any library's)", True, _patch(PATRON), 200),
    ("/patrons/{card}/export", "get", "The patron's data: profile, loans, holds (JSON; "
     "format=pdf for a readable PDF). The patron themself, or staff of their home library "
     "(audited); anyone else 403", True, None, 200),
    ("/patrons/{card}/fees", "get", "The patron's fees for copies lost or damaged on "
     "loan, open ones first (staff; audited): each with the library that charged it (only "
     "it, or the hub, takes the payment or waives it: payable_here), the copy, the amount "
     "in whole đồng, its state and dates; totals: owed (counted toward this library's "
     "limit), owed_here, owed_elsewhere with the libraries that take it, the limit", True,
     None, 200),
    ("/fees", "post", "Charge the borrower of a copy on loan declared lost (the loan stays "
     "open) or damaged (the copy is taken back): the copy's price, else the loan rule's "
     "replacement charge; this library's copies only (the hub: any library's); once per "
     "loan and kind. The copy: `item` (its barcode), with `library` when libraries share "
     "the barcode (the hub refuses an ambiguous barcode with 409 "
     "barcode_in_many_libraries, naming them), or `item_id`", True, CHARGE, 201),
    ("/fees/{fee_id}/payments", "post", "A payment of the fee: its whole balance, or "
     "`amount` of it in đồng (a part: the fee stays open for the rest; above 0, else 400 "
     "bad_amount; more than the balance is 409 over_balance); at the library that charged it or "
     "the hub (else 403 other_library); a fee settled already is 409 fee_settled", True,
     _obj(amount="integer"), 200),
    ("/fees/{fee_id}/waiver", "post", "Waive the fee, with a reason (255 characters at "
     "most); where it may be paid, as a payment", True, _obj("reason", reason="string"),
     200),
    ("/bibs", "post", "Create a bibliographic record", True, BIB, 201),
    ("/bibs/{bib_id}", "get", "A bibliographic record", False, None, 200),
    ("/bibs/{bib_id}", "patch", "Edit a bibliographic record (the union catalogue)", True,
     _patch(BIB), 200),
    ("/bibs/{bib_id}/related", "get", "Related titles (docs/suggestions.md): up to 10 "
     "{bib_id, title, why}, borrowed together by at least 5 readers first (why: "
     "borrowed_together), then alike in content (why: series, author, subject, ddc, title); "
     "?audience=child for children's loans", False, None, 200),
    ("/bibs/suggest-classification", "get", "DDC classes and subject headings for a record "
     "being catalogued, from the most similar records of the union catalogue (staff): "
     "{ddc: [{class, ddc, share}], main_classes, subjects, evidence: [3 records]}", True,
     None, 200),
    ("/items", "post", "Add a copy", True, ITEM, 201),
    ("/items/{barcode}", "get", "A copy and its status", False, None, 200),
    ("/items/{barcode}", "patch", "Edit a copy; status as staff set it (available, lost, "
     "damaged, withdrawn)", True, _patch(ITEM_EDIT), 200),
    ("/checkouts", "post", "Lend a copy", True, _obj("patron", "item", patron="string",
                                                      item="string"), 201),
    ("/checkins", "post", "Return a copy", True, _obj("item", item="string"), 200),
    ("/renewals", "post", "Renew a loan", True, _obj("item", item="string"), 200),
    ("/holds", "post", "Place a hold", True, _obj("patron", "bib_id", patron="string",
                                                   bib_id="string"), 201),
    ("/holds/{hold_id}", "delete", "Cancel a hold", True, None, 200),
    ("/holds/asked", "get", "Waiting holds of other libraries asked of this library to "
     "send a copy, not declined: [{hold_id, bib_id, title, patron (card), library "
     "(pickup), placed_at}] (staff)", True, None, 200),
    ("/holds/{hold_id}/decline", "post", "This library, asked to send a copy for another "
     "library's hold, cannot fill it: the pickup library asks the next library that can "
     "lend (or keeps the hold in its own queue), never this one again; reason required, "
     "200 characters at most", True, _obj("reason", reason="string"), 200),
    ("/search", "get", "Search the catalogue", False, None, 200),
    ("/reports/statistics", "get", "Every figure of a library's report (or, at the hub, the "
     "town's) over from..to, beside the same period a year earlier; report_viewer, "
     "branch_admin, hub_admin; report_viewer sees figures over fewer than 5 people as "
     "'< 5'", True, None, 200),
    ("/reports/indicators", "get", "The plan's four indicators at the hub: value, numerator, "
     "denominator, target, progress (null value where there is no data); `trained` also "
     "has libraries: {code: {staff, trained, untrained: [account]}}", True, None, 200),
    ("/digital/search", "get", "Search inside the OCR text of digitised documents (folded: "
     "without diacritics too): {total, more, page, hits: [{document, title, bib_id, page, "
     "page_id, snippet, highlights, boxes, manifest, viewer}]}, only documents the caller "
     "may see; 20 hits a page", False, None, 200),
    ("/digital/uploads", "post", "Start a resumable upload of a scan or PDF (staff): "
     "{id, received}", True, _obj("filename", "size", filename="string", size="integer"),
     201),
    ("/digital/uploads/{upload_id}", "get", "Where an upload stands: {id, received, size}",
     True, None, 200),
    ("/digital/uploads/{upload_id}", "put", "A chunk (application/octet-stream, at most 8 "
     "MB) at ?offset= the bytes held; 409 names the offset to go on from", True, None, 200),
    ("/digital/documents", "post", "Attach finished uploads, in page order, to a record as a "
     "digital document: {document, pages, viewer}", True,
     _obj("bib_id", "uploads", bib_id="string", uploads="array", access="string",
          collection="string", downloadable="boolean"), 201),
    ("/requests", "get", "Remote requests: a patron's own (from the OPAC login), each with "
     "its state and, when ready, its download link (copy_here false: the PDF reaches this "
     "site with the next sync; the hub holds it); staff: their library's open queue "
     "(the hub: the town's; ?library=, ?all=1 with the closed ones), each with "
     "late_since and awaited_from: at the hub, for a ready copy whose PDF has not reached "
     "it two days after it was attached, since when and the library that must send it "
     "(else null)", True, None, 200),
    ("/requests", "post", "A patron asks (OPAC login): a copy of pages (kind copy: bib_id "
     "or document_id, pages, purpose, copyright_accepted true) or a loan by post (kind "
     "postal_loan: bib_id, address); handled by the library that holds the document, or "
     "for the post the patron's home library", True,
     _obj("kind", kind="string", bib_id="string", document_id="string", pages="string",
          purpose="string", address="string", copyright_accepted="boolean",
          library="string"), 201),
    ("/requests/{request_id}/cancel", "post", "The patron (OPAC login) cancels their "
     "request while the library has not answered it with a copy", True, None, 200),
    ("/requests/{request_id}/{action}", "post", "Staff of the library that handles a "
     "request move it: accept, refuse ({reason}), attach ({upload_id} of a finished upload: "
     "the PDF), lend ({barcode}: lent by post), expire. An illegal move is a 409 saying "
     "why", True, None, 200),
    ("/digital/progress", "get", "Digitisation progress: the town's and each library's "
     "marked records with a digital copy, and the work list (?order=oldest|requested, "
     "?library=CODE)", True, None, 200),
]
SEARCH_PARAMS = ("q", "page", "per_page", "sort", "in_library", "item_type", "language",
                 "year_from", "year_to", "available")
# Query parameters of the other routes that take them: (name, required).
QUERY = {"/bibs/{bib_id}/related": [("audience", False)],
         "/bibs/suggest-classification": [("title", True), ("authors", False)],
         "/reports/statistics": [("library", False), ("from", True), ("to", True)],
         "/patrons/{card}/export": [("format", False)],
         "/digital/search": [("q", True), ("document", False), ("page", False)],
         "/digital/uploads/{upload_id}": [("offset", False)],
         "/digital/progress": [("order", False), ("library", False)],
         "/requests": [("library", False), ("all", False)]}
WITH_LIBRARY = {("/items/{barcode}", "get"), ("/items/{barcode}", "patch"),
                ("/patrons/{card}", "get"), ("/patrons/{card}", "patch"),
                ("/patrons/{card}/export", "get"), ("/patrons/{card}/fees", "get")}
# What a route answers, where the document says more than "an object".
ANSWERS = {("/patrons/{card}/fees", "get"): FEES, ("/fees", "post"): FEE,
           ("/fees/{fee_id}/payments", "post"): FEE, ("/fees/{fee_id}/waiver", "post"): FEE}
# Text longer than this is no field of a record (a notes field fits).
MAX_TEXT = 4000
MAX_LIST = 100


def _operation(path, method, summary, auth, schema, status):
    op = {"summary": summary, "responses": {
        str(status): {"description": "OK", "content": {"application/json": {
            "schema": ANSWERS.get((path, method), OBJ)}}},
        "4XX": {"description": "Refused; nothing changed",
                "content": {"application/json": {"schema": ERROR}}}}}
    params = [{"name": part[1:-1], "in": "path", "required": True,
               "schema": {"type": "string"}}
              for part in path.split("/") if part.startswith("{")]
    params += [{"name": name, "in": "query", "required": required,
                "schema": {"type": "string"}} for name, required in QUERY.get(path, ())]
    if path == "/search":
        params = [{"name": p, "in": "query", "required": False, "schema": {"type": "string"}}
                  for p in SEARCH_PARAMS]
    if (path, method) in WITH_LIBRARY:
        params.append(LIBRARY)
    if params:
        op["parameters"] = params
    if schema:  # a body whose fields are all optional may be left out
        op["requestBody"] = {"required": bool(schema["required"]
                                              or schema.get("minProperties")),
                             "content": {"application/json": {"schema": schema}}}
    if auth:
        op["security"] = [{"bearer": []}, {"cookie": []}]
    return op


def schema_of(path, method):
    """The request body schema of a route in ROUTES."""
    return next(r[4] for r in ROUTES if r[0] == path and r[1] == method)


def checked(data, schema):
    """`data` (a JSON object) when its fields have the types `schema` says (and, for an
    edit, only known fields, at least one); else Invalid naming the first bad field."""
    props = schema["properties"]
    if schema.get("additionalProperties") is False:
        unknown = sorted(set(data) - set(props))
        if unknown:
            raise Invalid("unknown_field", N_("Unknown field: %(field)s."), field=unknown[0])
        if not data:
            raise Invalid("nothing_to_change", N_("Send at least one field to change."))
    for name, spec in props.items():
        if name in data:
            _check_value(name, data[name], spec["type"])
    return data


_TYPE_ERRORS = {
    "string": N_("%(field)s must be text."),
    "integer": N_("%(field)s must be a whole number."),
    "boolean": N_("%(field)s must be true or false."),
    "array": N_("%(field)s must be a list of texts."),
}


def _check_value(name, value, kind):
    kinds = kind if isinstance(kind, list) else [kind]
    if value is None and "null" in kinds:
        return
    kind = kinds[0]
    ok = {"string": lambda v: isinstance(v, str) and len(v) <= MAX_TEXT,
          "integer": lambda v: isinstance(v, int) and not isinstance(v, bool)
          and abs(v) < 10**9,
          "boolean": lambda v: isinstance(v, bool),
          "array": lambda v: isinstance(v, list) and len(v) <= MAX_LIST
          and all(isinstance(x, str) and len(x) <= MAX_TEXT for x in v)}[kind](value)
    if not ok:
        raise Invalid("bad_field", _TYPE_ERRORS[kind], field=name)


def spec(server_url):
    paths = {}
    for path, method, summary, auth, schema, status in ROUTES:
        paths.setdefault(path, {})[method] = _operation(path, method, summary, auth, schema,
                                                        status)
    return {"openapi": "3.1.0",
            "info": {"title": "thuvien API", "version": __version__},
            "servers": [{"url": server_url}],
            "paths": paths,
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "thuvien_session"}}}}
