"""The OpenAPI 3.1 document of API v1, built from one table of routes."""

from ... import __version__


def _obj(*required, **props):
    return {"type": "object", "required": list(required),
            "properties": {k: {"type": v} for k, v in props.items()}}


ERROR = {"type": "object", "properties": {"error": _obj("code", "message", code="string",
                                                          message="string")}}
OBJ = {"type": "object"}

# path, method, summary, auth, request schema, success status
ROUTES = [
    ("/health", "get", "Health of this appliance", False, None, 200),
    ("/session", "post", "Log in: a bearer token", False,
     _obj("username", "password", username="string", password="string"), 200),
    ("/patrons", "post", "Register a patron", True,
     _obj("card", "name", "category", card="string", name="string", category="string",
          expiry="string", guardian="string", guardian_consent="boolean", phone="string",
          email="string", pin="string"), 201),
    ("/patrons/{card}", "get", "A patron and their loans (audited)", True, None, 200),
    ("/bibs", "post", "Create a bibliographic record", True,
     _obj("title", title="string", authors="array", publisher="string", year="integer",
          isbn="string", language="string", ddc="string", subjects="array", series="string"),
     201),
    ("/bibs/{bib_id}", "get", "A bibliographic record", False, None, 200),
    ("/items", "post", "Add a copy", True,
     _obj("bib_id", "barcode", bib_id="string", barcode="string", item_type="string",
          location="string", call_number="string"), 201),
    ("/items/{barcode}", "get", "A copy and its status", False, None, 200),
    ("/checkouts", "post", "Lend a copy", True, _obj("patron", "item", patron="string",
                                                      item="string"), 201),
    ("/checkins", "post", "Return a copy", True, _obj("item", item="string"), 200),
    ("/renewals", "post", "Renew a loan", True, _obj("item", item="string"), 200),
    ("/holds", "post", "Place a hold", True, _obj("patron", "bib_id", patron="string",
                                                   bib_id="string"), 201),
    ("/holds/{hold_id}", "delete", "Cancel a hold", True, None, 200),
    ("/search", "get", "Search the catalogue (q, page)", False, None, 200),
    ("/reports/statistics", "get", "Every figure of a library's report (or, at the hub, the "
     "town's) over from..to, beside the same period a year earlier; report_viewer, "
     "branch_admin, hub_admin; report_viewer sees figures over fewer than 5 people as "
     "'< 5'", True, None, 200),
    ("/reports/indicators", "get", "The plan's four indicators at the hub: value, numerator, "
     "denominator, target, progress (null value where there is no data)", True, None, 200),
]
# Query parameters of the routes that take them: (name, required).
QUERY = {"/search": [("q", False), ("page", False)],
         "/reports/statistics": [("library", False), ("from", True), ("to", True)]}


def _operation(path, summary, auth, schema, status):
    op = {"summary": summary, "responses": {
        str(status): {"description": "OK", "content": {"application/json": {"schema": OBJ}}},
        "4XX": {"description": "Refused; nothing changed",
                "content": {"application/json": {"schema": ERROR}}}}}
    params = [(part[1:-1], "path", True) for part in path.split("/") if part.startswith("{")]
    params += [(name, "query", required) for name, required in QUERY.get(path, ())]
    if params:
        op["parameters"] = [{"name": p, "in": where, "required": required,
                             "schema": {"type": "string"}} for p, where, required in params]
    if schema:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": schema}}}
    if auth:
        op["security"] = [{"bearer": []}, {"cookie": []}]
    return op


def spec(server_url):
    paths = {}
    for path, method, summary, auth, schema, status in ROUTES:
        paths.setdefault(path, {})[method] = _operation(path, summary, auth, schema, status)
    return {"openapi": "3.1.0",
            "info": {"title": "thuvien API", "version": __version__},
            "servers": [{"url": server_url}],
            "paths": paths,
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "thuvien_session"}}}}
