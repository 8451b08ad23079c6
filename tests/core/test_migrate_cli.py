"""`thuvien migrate`: what a hub's staff run after their backup, and what an update runs
with the new version. On SQLite and PostgreSQL."""

import json
import subprocess
import sys

from appliance.core import datadir, db
from appliance.core.models import Setting
from tests.core.test_old_schemas import unpack
from tests.sync.syncsupport import hub_db_fixture  # noqa: F401  (the hub_db fixture)


def thuvien(*args):
    return subprocess.run([sys.executable, "-m", "appliance.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_an_old_database_is_migrated_step_by_step(tmp_path):
    data = unpack(6, tmp_path / "data")
    check = thuvien("migrate", "--data", data, "--check")
    assert json.loads(check.stdout) == {"database": 6, "software": db.SCHEMA_VERSION}
    run = thuvien("migrate", "--data", data)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"schema 6 -> {db.SCHEMA_VERSION}: {db.SCHEMA_VERSION - 6} steps"
    assert "migration 7: other libraries' patron data stays at their home library" in lines[1]
    assert lines[-1].startswith(f"database at schema {db.SCHEMA_VERSION} (")
    again = thuvien("migrate", "--data", data, "--check")
    assert json.loads(again.stdout)["database"] == db.SCHEMA_VERSION


def test_a_hub_database_is_checked_migrated_and_a_newer_one_refused(tmp_path, hub_db):
    data = tmp_path / "hub"
    ctx = datadir.init(data, "PY-HUB", "Thư viện tỉnh", role="hub", database=hub_db)
    try:
        run = thuvien("migrate", "--data", data)
        assert run.returncode == 0, run.stderr
        assert run.stdout.splitlines()[0] == \
            f"schema {db.SCHEMA_VERSION} -> {db.SCHEMA_VERSION}: 0 steps"
        Setting.update(value=db.SCHEMA_VERSION + 1).where(
            Setting.key == "schema_version").execute()
    finally:
        ctx.close()
    check = thuvien("migrate", "--data", data, "--check")
    assert json.loads(check.stdout) == {"database": db.SCHEMA_VERSION + 1,
                                        "software": db.SCHEMA_VERSION}
    run = thuvien("migrate", "--data", data)
    assert run.returncode == 1
    assert f"database schema {db.SCHEMA_VERSION + 1} is newer than this software" in run.stderr


def test_no_database_is_said_plainly(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data/settings.json").write_text(json.dumps(
        {"library": "PY-DH01", "device_id": "d1"}))
    run = thuvien("migrate", "--data", tmp_path / "data")
    assert run.returncode == 1 and "no library database at" in run.stderr
