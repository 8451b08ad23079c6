"""Walk the whole URL map: every route states its roles, and refuses every other role."""

import re
import time

import pytest

from appliance.core import users
from appliance.core.users import ROLES
from tests.factories import PASSWORD

ANONYMOUS = None
SAMPLE_ARGS = {"card": "P0001", "barcode": "1001", "bib_id": "x", "hold_id": "x", "id": "x"}


def _url(rule):
    url = rule.rule
    for arg in rule.arguments:
        url = re.sub(r"<(?:[^:<>]+:)?%s>" % arg, SAMPLE_ARGS.get(arg, "x"), url)
    return url


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, app.view_functions[rule.endpoint]


def test_every_route_states_its_roles(app):
    missing = [rule.rule for rule, _, view in _routes(app) if not hasattr(view, "roles")]
    assert missing == []


def test_unknown_role_sets_are_not_used(app):
    for _rule, _method, view in _routes(app):
        if view.roles is not None:
            assert view.roles and set(view.roles) <= set(ROLES), view


@pytest.mark.parametrize("role", [ANONYMOUS, *ROLES])
def test_each_route_refuses_the_roles_it_must(app, ctx, role):
    subject = "patron:P0001" if role == "patron" else f"walker-{role}"
    if role and role != "patron":
        users.create(ctx, subject, PASSWORD, role)
    checked = 0
    for rule, method, view in _routes(app):
        if view.roles is None:
            continue
        client = app.test_client()
        with client.session_transaction() as s:
            s["csrf"] = "t"
            if role:  # a login as the login form makes it: the database knows it
                s["sid"] = users.open_login(subject, "session", 3600)
                s["user"], s["role"], s["login_at"] = subject, role, time.time()
                if role == "kiosk":
                    s["kiosk_patron"] = "P0001"
        response = client.open(_url(rule), method=method, data={"csrf_token": "t"},
                               headers={"Accept": "text/html"})
        allowed = role in view.roles
        code = response.status_code
        if allowed:
            assert code not in (401, 403), (role, method, rule.rule, code)
            assert not (code == 302 and "/login" in response.headers.get("Location", "")), \
                (role, method, rule.rule)
        elif role is ANONYMOUS:
            assert code == 401 or (code == 302 and "/login" in response.headers["Location"]), \
                (method, rule.rule, code)
        else:
            assert code == 403, (role, method, rule.rule, code)
        checked += 1
    assert checked > 20


def test_api_refuses_without_a_token(server):
    import requests
    r = requests.post(f"{server.url}/api/v1/checkouts", json={"patron": "P0001", "item": "1001"},
                      timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorised"
