"""Fixtures every area shares: a library on real SQLite, the Flask app, a real waitress
server on loopback, and real headless Chromium."""

import fcntl
import json
import os
import re
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import pytest

from appliance.core import passwords
from tests.factories import LIB, PASSWORD, make_library, seed

# Fixtures create accounts and PINs by the dozen: hash them cheaply. The production cost
# has its own test (tests/core/test_passwords.py); servers the tests start as separate
# processes keep it.
passwords.cost = passwords.TEST_COST

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


def unavailable(reason):
    """Something a test needs is missing: skip on a developer's machine, fail under CI
    (where `make test` installs everything, so a skip would hide a broken setup)."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (make test installs it)")
    pytest.skip(reason)


def need_binary(path):
    if not (shutil.which(path) or os.path.exists(path)):
        unavailable(f"{path} is not installed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the tests' ids
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`make test` runs `-n auto --dist loadgroup`) a test file runs
    whole on one worker, so its module-scoped fixtures (a seeded town, a server of its
    own) are built once; a file may name a group of its own with `xdist_group`."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::", 1)[0]))


def built_once(tmp_path_factory, name, build):
    """`build(folder)` run once for the whole test run, its JSON-able result shared by
    every xdist worker (they share the parent of their base temporary folders; a lock
    makes the others wait for the first). Without xdist: built here, as before."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build(tmp_path_factory.mktemp(name))
    root = tmp_path_factory.getbasetemp().parent
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / f"{name}.json"
        if not done.exists():
            folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
            done.write_text(json.dumps(build(folder)))
        return json.loads(done.read_text())


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def ctx(data_dir):
    context = make_library(data_dir)
    context.bibs = seed(context)
    yield context
    context.close()


@pytest.fixture
def app(ctx):
    from appliance.web import create_app
    return create_app(ctx, testing=True)


@pytest.fixture
def client(app):
    return app.test_client()


class Server:
    def __init__(self, app, port=0):
        import waitress
        self.app = app
        self.map = {}  # the server's connections, its listening socket and its wake-up pipe
        self.server = waitress.create_server(app, map=self.map, host="127.0.0.1", port=port,
                                             threads=8)
        self.port = self.server.effective_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.server.run()
        except OSError:
            pass  # the socket closed under the loop: the server was stopped

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        # Everything is closed in the server's own loop, woken for it: closed from here,
        # the loop slept out its poll timeout (a second), and a connection a browser kept
        # alive (or an event stream) kept it running past the five seconds waited here.
        from waitress.wasyncore import close_all

        try:
            self.server.trigger.pull_trigger(lambda: close_all(self.map))
        except OSError:
            pass  # the loop had stopped already and closed its wake-up pipe with the rest
        self.thread.join(5)
        if self.map:  # the loop had already stopped
            close_all(self.map, ignore_all=True)
        # Its worker threads end (at once when idle), and with them the database connection
        # each one kept: left running, they held a PostgreSQL connection apiece to the end
        # of the run, dozens a test process.
        self.server.task_dispatcher.set_thread_count(0)


@pytest.fixture
def server(app, tmp_path):
    with Server(app) as s:
        s.shots = tmp_path  # screenshots of the pages a test visits
        yield s


def served(ctx):
    """`ctx`'s web app on a real server, as a fixture yields it: with `ctx`, `app` and
    `auth` (a librarian's bearer token header) besides."""
    from appliance.web import create_app

    app = create_app(ctx, testing=True)
    with Server(app) as srv:
        srv.ctx, srv.app = ctx, app
        srv.auth = login_token(srv.url)
        yield srv


def csrf_token(client, path):
    """The CSRF token a page's forms carry."""
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def staff_login(client, username="thuthu", password=PASSWORD, landing="/desk/"):
    """Log in through the form; returns the new session's CSRF token from `landing`."""
    r = client.post("/login", data={"username": username, "password": password,
                                    "csrf_token": csrf_token(client, "/login")})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return csrf_token(client, landing)


def login_token(url, username="thuthu", password=PASSWORD):
    import requests
    r = requests.post(f"{url}/api/v1/session", json={"username": username,
                                                     "password": password}, timeout=10)
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(scope="session")
def chromium():
    need_binary(CHROMIUM)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(locale="vi-VN", viewport={"width": 1024, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


__all__ = ["LIB", "PASSWORD", "csrf_token", "free_port", "login_token", "need_binary", "Server",
           "staff_login", "unavailable"]


@pytest.fixture
def browser(page):
    """The name the areas' tests use for a Chromium page."""
    return page
