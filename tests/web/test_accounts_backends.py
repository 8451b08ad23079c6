"""Logins the database revokes, on SQLite and on PostgreSQL (the town hub keeps its
sessions and tokens in PostgreSQL), over a real waitress server."""

import re

import pytest
import requests

from tests.catalogue.backends import BACKENDS, library
from tests.web.test_accounts import api_ok, at_desk, form_login, thuvien, token_for


@pytest.fixture(params=BACKENDS)
def ctx(data_dir, request):
    with library(data_dir, request.param) as context:
        yield context


def test_logout_disable_and_delete_end_logins(server, ctx):
    s, token = form_login(server.url), token_for(server.url)
    copied = s.cookies.get_dict()
    s.post(f"{server.url}/logout", data={"csrf_token": _csrf(s, server.url)}, timeout=10)
    assert not at_desk(copied, server.url) and api_ok(server.url, token)
    assert thuvien("user", "disable", "thuthu", "--data", str(ctx.data_dir)).returncode == 0
    assert not api_ok(server.url, token)
    keeper = token_for(server.url, "quanly")
    assert thuvien("user", "delete", "quanly", "--data", str(ctx.data_dir)).returncode == 0
    assert not api_ok(server.url, keeper)


def _csrf(session, url):
    page = session.get(f"{url}/desk/", timeout=10).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_waits_are_counted_in_the_database(server):
    for _ in range(5):
        r = requests.post(f"{server.url}/api/v1/session", timeout=10,
                          json={"username": "khongcoai", "password": "doan-mo-mat-khau"})
        assert r.json()["error"]["code"] == "bad_login"
    r = requests.post(f"{server.url}/api/v1/session", timeout=10,
                      json={"username": "khongcoai", "password": "doan-mo-mat-khau"})
    assert r.json()["error"]["code"] == "login_wait"


def test_a_wait_is_kept_to_the_second(ctx):
    """On PostgreSQL a REAL column rounded today's time to 128 s: a 30 s wait could be over
    before it began, and locks came and went at random."""
    from appliance.core import passwords
    now = 1_764_542_017.25
    for _ in range(passwords.FREE_FAILURES):
        passwords.failed("login|thuthu|192.0.2.7", now=now)
    assert passwords.wait_left("login|thuthu|192.0.2.7", now=now) == passwords.FIRST_WAIT
    assert passwords.wait_left("login|thuthu|192.0.2.7", now=now + 29.5) == 1
