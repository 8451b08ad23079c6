"""A hub whose PostgreSQL server is away: at start it says so in one line and exits
non-zero; during work it answers 503 in plain words, and works again once the server is
back, without a restart. On a server of the test's own, really stopped and started."""

import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from appliance.cli import core as cli_core
from appliance.core import circulation, datadir, verify
from tests.conftest import PASSWORD, Server, free_port, login_token
from tests.factories import seed
from tests.fault.pgserver import ThrowawayPostgres

VI_MESSAGE = "Hiện không kết nối được với cơ sở dữ liệu của thư viện"


@pytest.fixture(scope="module")
def pg():
    server = ThrowawayPostgres().init()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def up(pg):
    """The server running at the start and the end of the test, whatever it did."""
    yield pg
    if not (pg.data / "postmaster.pid").exists():
        pg.start()


def thuvien(*args):
    return subprocess.run([sys.executable, "-m", "appliance.cli", *args], capture_output=True,
                          text=True, timeout=120)


def _said_in_one_line(out, *words):
    assert out.returncode == 1, out
    err = out.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("thuvien: cannot reach the PostgreSQL server"), err
    for word in words:
        assert word in err, (word, err)
    return err


def test_a_hub_without_its_server_says_so_in_one_line_and_exits(up, tmp_path):
    pg = up
    pg.create_database("hub_start")
    url = pg.url("hub_start", password="mat-khau-pg")
    hub = tmp_path / "hub"
    out = thuvien("init", "--data", str(hub), "--library", "PY-TV00", "--name", "Thư viện",
                  "--role", "hub", "--database", url)
    assert out.returncode == 0, out
    pg.stop()
    where = f"127.0.0.1:{pg.port}"
    for command in (["serve", "--port", str(free_port()), "--sip2-port", "0"], ["verify"],
                    ["hub", "token", "create", "--library", "PY-TV01"]):
        err = _said_in_one_line(thuvien(*command, "--data", str(hub)), where, "hub_start",
                                "Connection refused")
        assert "mat-khau-pg" not in err, "the password stays out of logs"
    fresh = tmp_path / "never"
    _said_in_one_line(thuvien("init", "--data", str(fresh), "--library", "PY-TV02",
                              "--name", "Thư viện", "--role", "hub", "--database", url), where)
    assert not fresh.exists(), "a failed init leaves no half-made data folder"


def test_the_servers_own_refusal_is_passed_on(up, tmp_path):
    out = thuvien("init", "--data", str(tmp_path / "hub"), "--library", "PY-TV00",
                  "--name", "Thư viện", "--role", "hub", "--database", up.url("khong_co"))
    _said_in_one_line(out, f"127.0.0.1:{up.port}", 'database "khong_co" does not exist')


@pytest.fixture
def hub(up, tmp_path):
    ctx = datadir.init(tmp_path / "hub", "PY-TV00", "Thư viện thị xã", role="hub",
                       database=up.create_database("hub_" + tmp_path.name[-20:].lower()
                                                   .replace("-", "_")))
    seed(ctx)
    from appliance.web import create_app

    with Server(create_app(ctx)) as server:  # as served: no testing mode
        yield ctx, server
    ctx.close()


def _desk_session(url):
    s = requests.Session()
    page = s.get(f"{url}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = s.post(f"{url}/login", data={"username": "thuthu", "password": PASSWORD,
                                     "csrf_token": token}, timeout=10, allow_redirects=False)
    assert r.status_code == 302, r.text[:300]
    return s


def _statuses(url, auth, desk, count=24):
    """Many requests at once, so that every server thread (each with its connection) works."""
    def one(i):
        if i % 2:
            return requests.get(f"{url}/api/v1/patrons/P0001", headers=auth, timeout=30)
        return desk.get(f"{url}/desk/patrons/P0001", timeout=30)
    with ThreadPoolExecutor(8) as pool:
        return [r.status_code for r in pool.map(one, range(count))]


def test_a_lost_server_is_a_503_in_words_and_work_resumes_when_it_is_back(up, hub):
    ctx, server = hub
    url = server.url
    auth = login_token(url)
    desk = _desk_session(url)
    assert set(_statuses(url, auth, desk)) == {200}

    up.stop()
    r = requests.get(f"{url}/api/v1/patrons/P0001", headers=auth, timeout=30)
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert r.json()["error"]["code"] == "database_unavailable"
    assert r.json()["error"]["message"].startswith(VI_MESSAGE)
    r = requests.post(f"{url}/api/v1/checkouts", json={"patron": "P0001", "item": "1001"},
                      headers=dict(auth, **{"Accept-Language": "en"}), timeout=30)
    assert r.status_code == 503
    assert r.json()["error"]["message"].startswith("The library's database cannot be reached")
    page = desk.get(f"{url}/desk/patrons/P0001", timeout=30)
    assert page.status_code == 503 and "text/html" in page.headers["Content-Type"]
    assert VI_MESSAGE in page.text
    assert cli_core.healthy(ctx), "the watchdog does not restart a hub for its server's outage"

    up.start()  # no restart of the hub: each thread reconnects on its next request
    assert set(_statuses(url, auth, desk)) == {200}
    r = requests.post(f"{url}/api/v1/checkouts", json={"patron": "P0001", "item": "1001"},
                      headers=auth, timeout=30)
    assert r.status_code == 201, r.text
    assert verify.verify(ctx) == []


def _running(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()  # a zombie has closed its sockets
    except (FileNotFoundError, ProcessLookupError):  # gone while its file was read
        return False


def _gone(pids, timeout=10.0):
    end = time.monotonic() + timeout
    while any(_running(p) for p in pids):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def test_connections_cut_while_the_server_stays_up_fail_no_request(up, hub):
    ctx, server = hub
    auth = login_token(server.url)
    desk = _desk_session(server.url)
    assert set(_statuses(server.url, auth, desk)) == {200}
    database = ctx.db.database
    cut = up.sql(database, "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                           f"WHERE datname = '{database}' AND pid <> pg_backend_pid()")
    assert len(cut) >= 2, "the server threads' connections were cut"
    # A session ends a moment after its signal; a request in that moment fails (503).
    # Once its process is gone, its socket is closed and the hub sees that before use.
    assert _gone([pid for pid, _ in cut]), "terminated sessions still running after 10 s"
    assert set(_statuses(server.url, auth, desk)) == {200}
    circulation.checkout(ctx, "P0002", "1002")  # this thread's connection too, in a write
