"""What the web server holds: libraries that only some pages or commands use are imported
when they are used, not when `thuvien serve` starts. Each is megabytes of a Pi's memory for
the server's whole life (bench/README.md, bench.core's server RSS). And a server that staff
have logged in to and toured keeps no memory per thread: SQLite connections are lent, not
kept by each thread (core/db.py), and malloc gives back what a password check took
(appliance/malloc.py)."""

import json
import os
import subprocess
import sys
import time

from appliance.core import passwords, users
from appliance.core.datadir import init
from bench.core import desk_tour, load, rss_mb, serve

# What each weighs in the server, and what imports it when it is needed.
LAZY = {
    "psycopg2": "6 MB; a hub's PostgreSQL database (core/db.py, _Psycopg2)",
    "pymarc": "4 MB; MARC import and export, OAI-PMH, the open-data dump",
    "requests": "5 MB with urllib3; sync from the desk, enrolment, the devices daemon",
    "urllib3": "requests' own",
    "charset_normalizer": "requests' own",
    "PIL": "3 MB; covers, labels, patron cards",
    "qrcode": "2 MB; the hub's enrolment tokens",
}

# A fresh interpreter, as `thuvien serve` starts: the whole command line built, a branch's
# web app made, and the pages a desk day opens first answered.
SERVER_START = """
import json, sys
from appliance.cli import build_parser
from appliance.core.datadir import init
from appliance.web import create_app

build_parser()
app = create_app(init(sys.argv[1], "PY-DH01", "Thư viện Đồng Hới"))
client = app.test_client()
for path in ("/api/v1/health", "/login", "/opac/", "/api/v1/search?q=l%E1%BB%8Bch+s%E1%BB%AD"):
    assert client.get(path).status_code == 200, path
print(json.dumps(sorted(sys.modules)))
"""


def test_the_web_server_starts_without_the_libraries_only_some_pages_use(tmp_path):
    run = subprocess.run([sys.executable, "-c", SERVER_START, str(tmp_path / "data")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    loaded = {name.split(".")[0] for name in json.loads(run.stdout.splitlines()[-1])}
    assert not {name: why for name, why in LAZY.items() if name in loaded}


def test_routes_written_out_match_the_modules_imported_when_used(app):
    """sync/hub.py and sync/certweb.py name these paths without importing their modules
    (they bring requests): the paths the branches ask must be the ones served."""
    from sync import cardcheck, certs

    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert {cardcheck.PATH, certs.CA_PATH, certs.CERT_PATH} <= rules


def test_a_postgresql_database_made_after_peewee_loads_psycopg2_itself():
    """peewee was imported without the driver (appliance/__init__.py); the hub's database
    still gets it, through its own adapter."""
    import peewee

    from appliance.core.db import PostgresqlDatabase

    db = PostgresqlDatabase("thuvien", host="127.0.0.1")
    assert db._adapter.driver.__name__ == "psycopg2"
    assert db.get_binary_type() is db._adapter.driver.Binary
    assert peewee.psycopg2 is None or peewee.psycopg2 is db._adapter.driver


# What a server may grow by while staff log in and open the desk's pages, once it has
# served them all once. Measured on a small library (bench/README.md): 0.1-0.4 MB now;
# 50-60 MB when each server thread kept its own SQLite connection and, in its malloc
# arena, the 16 MB each password check takes (scrypt).
DESK_GROWTH_MB = 8
# ... and what it may hold at all after that, on a small library: 55 MB now, ~100 before.
DESK_TOTAL_MB = 75


MAX_CONNECTIONS = 4


def _rss_settled(pid):
    """The server's RSS once it is idle (a page's last bytes are sent before its thread
    has freed what it made them with)."""
    time.sleep(0.2)
    return rss_mb(pid)


def _connections(pid, data):
    """How many SQLite connections the server holds: each has the database file open."""
    db, held = str(data / "thuvien.db"), 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            held += os.readlink(f"/proc/{pid}/fd/{fd}") == db
        except FileNotFoundError:  # closed since (the listing's own, in this process)
            pass
    return held


def test_a_server_that_served_the_desk_keeps_no_memory_per_thread(tmp_path, monkeypatch):
    """A real `thuvien serve` (eight threads) on loopback: four staff log in and each
    opens the desk tour of bench.core; the server must not hold more for it."""
    data = tmp_path / "data"
    ctx = init(data, "PY-DH01", "Thư viện Đồng Hới")
    load(ctx, records=60, copies=120, patron_count=20, progress=False)
    monkeypatch.setattr(passwords, "cost", passwords.PRODUCTION_COST)  # the real scrypt
    users.create(ctx, "bench", "mat-khau-thu-vien", "librarian")
    ctx.close()
    # malloc's settings are the server's own (appliance/malloc.py), not the environment's
    proc, url, _ = serve(data, "--https-port", "0",
                         env={k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"})
    try:
        desk_tour(url, "bench", "mat-khau-thu-vien")  # every thread serves a page once
        served = _rss_settled(proc.pid)
        for _ in range(3):  # three more staff: their logins land on other threads
            desk_tour(url, "bench", "mat-khau-thu-vien")
        after = _rss_settled(proc.pid)
        connections = _connections(proc.pid, data)
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"server RSS after one desk tour {served:.1f} MB, after four {after:.1f} MB; "
          f"{connections} connections")
    # one lent to the requests in turn, and the digital library's worker's own: not one
    # per server thread (nine or more)
    assert connections <= MAX_CONNECTIONS
    assert after - served < DESK_GROWTH_MB, (served, after)
    assert after < DESK_TOTAL_MB, (served, after)


def test_the_watchdogs_check_hands_its_connection_back(tmp_path):
    """The watchdog asks from a thread of its own for the server's whole life; each check
    is one more thread here, as a request is: they take turns with one connection."""
    from threading import Thread

    from appliance.cli.core import healthy

    ctx = init(tmp_path / "data", "PY-DH01", "Thư viện Đồng Hới")
    ctx.db.close()
    before = _connections(os.getpid(), tmp_path / "data")
    answers = []
    for _ in range(5):
        check = Thread(target=lambda: answers.append(healthy(ctx)))
        check.start()
        check.join()
    assert answers == [True] * 5
    assert _connections(os.getpid(), tmp_path / "data") <= max(before, 1)
    ctx.close()
