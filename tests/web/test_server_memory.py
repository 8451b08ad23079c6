"""What the web server holds: libraries that only some pages or commands use are imported
when they are used, not when `thuvien serve` starts. Each is megabytes of a Pi's memory for
the server's whole life (bench/README.md, bench.core's server RSS)."""

import json
import subprocess
import sys

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
