"""Signed updates with the project's own wheels: install, switch, refuse, roll back."""

import json
import os
import shutil
import sqlite3
import subprocess
import zipfile
from collections import namedtuple
from datetime import timedelta

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.core import datadir
from appliance.core.db import SCHEMA_VERSION
from provisioning import bundle, units, updates, window
from provisioning.bundle import BundleRefused
from sync import fetch
from tests.core.test_old_schemas import unpack
from tests.provisioning.conftest import fake_systemctl
from tests.provisioning.served import run
from tests.provisioning.test_old_schema_update import DESK
from tests.sync.syncsupport import hub_database

Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def ring(hub_signing_key):
    return bundle.trust(hub_signing_key)


@pytest.fixture
def inst(tmp_path, wheels):
    """An installation root running 0.1.0, as the Pi image leaves it."""
    inst = updates.Installation(tmp_path / "app")
    inst.install(wheels["0.1.0"], "0.1.0")
    inst.switch("0.1.0")
    return inst


def _bundle(tmp_path, wheel, key, name=None, **kw):
    kw.setdefault("min_version", "0.1.0")
    return updates.build_bundle(wheel, key, tmp_path / (name or wheel.stem + ".tvu"), **kw)


def _check_import(restarts):
    """The default health check (import + `thuvien --version`), with calls recorded."""
    def health(version_dir, version):
        restarts.append(("health", version))
        return updates.command_health(timeout=60)(version_dir, version)
    return health


def test_good_update_installs_beside_and_switches(tmp_path, inst, wheels, ring,
                                                   hub_signing_key):
    calls = []
    path = _bundle(tmp_path, wheels["0.2.0"], hub_signing_key)
    result = updates.apply(path, inst, ring, restart=lambda: calls.append("restart"),
                           health=_check_import(calls))
    assert result == {"result": "installed", "version": "0.2.0", "previous": "0.1.0"}
    assert calls == ["restart", ("health", "0.2.0")]
    assert inst.current_version() == "0.2.0" and inst.previous_version() == "0.1.0"
    assert inst.installed() == ["0.1.0", "0.2.0"]
    # `current` really runs the new code, and the launcher is in place
    assert updates.import_health(inst.current.resolve(), "0.2.0") == (True, "ok")
    assert (inst.current / "bin/thuvien").stat().st_mode & 0o111
    assert inst.status()["last"]["result"] == "installed"


def test_tampered_wheel_is_refused_before_install(tmp_path, inst, wheels, ring,
                                                  hub_signing_key):
    good = _bundle(tmp_path, wheels["0.2.0"], hub_signing_key)
    tampered = tmp_path / "tampered.tvu"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(tampered, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(".whl"):
                data = data[:-10] + b"\0" * 10
            out.writestr(info, data)
    with pytest.raises(BundleRefused) as err:
        updates.apply(tampered, inst, ring, restart=pytest.fail)
    assert err.value.code == "update_hash_mismatch"
    assert inst.current_version() == "0.1.0" and inst.installed() == ["0.1.0"]


def test_tampered_manifest_and_foreign_key_are_refused(tmp_path, inst, wheels, ring,
                                                       hub_signing_key):
    good = _bundle(tmp_path, wheels["0.2.0"], hub_signing_key)
    edited = tmp_path / "edited.tvu"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(edited, "w") as out:
        doc = json.loads(src.read(updates.MANIFEST))
        doc["payload"]["body"]["min_version"] = "0.0.1"
        out.writestr(updates.MANIFEST, json.dumps(doc))
        out.writestr(wheels["0.2.0"].name, src.read(wheels["0.2.0"].name))
    with pytest.raises(BundleRefused) as err:
        updates.apply(edited, inst, ring, restart=pytest.fail)
    assert err.value.code == "bundle_bad_signature"
    foreign = _bundle(tmp_path, wheels["0.2.0"], Ed25519PrivateKey.generate(), "foreign.tvu")
    with pytest.raises(BundleRefused) as err:
        updates.apply(foreign, inst, ring, restart=pytest.fail)
    assert err.value.code == "bundle_unknown_key"
    assert inst.current_version() == "0.1.0" and inst.installed() == ["0.1.0"]


def test_extra_file_in_bundle_is_refused(tmp_path, inst, wheels, ring, hub_signing_key):
    path = _bundle(tmp_path, wheels["0.2.0"], hub_signing_key)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("evil.pth", "import os")
    with pytest.raises(BundleRefused) as err:
        updates.apply(path, inst, ring, restart=pytest.fail)
    assert err.value.code == "update_files_differ"


def test_old_expired_and_too_new_bundles_are_refused(tmp_path, inst, wheels, ring,
                                                     hub_signing_key):
    same = _bundle(tmp_path, wheels["0.1.0"], hub_signing_key)
    with pytest.raises(BundleRefused) as err:
        updates.apply(same, inst, ring, restart=pytest.fail)
    assert err.value.code == "bundle_old_version"
    expired = _bundle(tmp_path, wheels["0.2.0"], hub_signing_key, "expired.tvu",
                      now=bundle.utcnow() - timedelta(days=2), valid_for=timedelta(days=1))
    with pytest.raises(BundleRefused) as err:
        updates.apply(expired, inst, ring, restart=pytest.fail)
    assert err.value.code == "bundle_expired"
    needs = _bundle(tmp_path, wheels["0.2.0"], hub_signing_key, "needs.tvu",
                    min_version="0.1.5")
    with pytest.raises(BundleRefused) as err:
        updates.apply(needs, inst, ring, restart=pytest.fail)
    assert err.value.code == "update_needs_newer" and "0.1.5" in str(err.value)
    assert inst.current_version() == "0.1.0" and inst.installed() == ["0.1.0"]


def test_bad_update_is_rolled_back(tmp_path, inst, wheels, ring, hub_signing_key):
    calls = []
    bad = _bundle(tmp_path, wheels["0.3.0"], hub_signing_key)
    result = updates.apply(bad, inst, ring, restart=lambda: calls.append("restart"),
                           health=_check_import(calls))
    assert result["result"] == "rolled_back" and result["previous"] == "0.1.0"
    assert "broken release" in result["reason"]
    # restarted into the bad version, checked, restarted back into the old one
    assert calls == ["restart", ("health", "0.3.0"), "restart"]
    assert inst.current_version() == "0.1.0"
    assert inst.installed() == ["0.1.0"]
    assert updates.import_health(inst.current.resolve(), "0.1.0") == (True, "ok")
    # the same broken release is not tried again on this device
    with pytest.raises(BundleRefused) as err:
        updates.apply(bad, inst, ring, restart=pytest.fail)
    assert err.value.code == "update_failed_before"


def test_a_failing_restart_rolls_back_too(tmp_path, inst, wheels, ring, hub_signing_key):
    def restart():
        if inst.current_version() == "0.2.0":
            raise RuntimeError("unit failed to start")
    result = updates.apply(_bundle(tmp_path, wheels["0.2.0"], hub_signing_key), inst, ring,
                           restart=restart, health=lambda *a: (True, "ok"))
    assert result["result"] == "rolled_back" and "unit failed" in result["reason"]
    assert inst.current_version() == "0.1.0"


def test_pending_folder_is_processed_once(tmp_path, inst, wheels, ring, hub_signing_key):
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    shutil.copy(_bundle(tmp_path, wheels["0.2.0"], hub_signing_key), incoming / "a.tvu")
    (incoming / "junk.tvu").write_bytes(b"not a zip")
    results = updates.apply_pending(incoming, inst, ring, health=_check_import([]))
    assert sorted(r["result"] for r in results) == ["installed", "refused"]
    assert (incoming / "done/a.tvu").exists() and (incoming / "refused/junk.tvu").exists()
    assert list(incoming.glob("*.tvu")) == []
    assert inst.current_version() == "0.2.0"


def test_interrupted_install_is_not_taken_for_done(tmp_path, wheels):
    inst = updates.Installation(tmp_path / "app")
    (inst.versions / ".0.2.0.part/site").mkdir(parents=True)  # a power cut mid-install
    (inst.versions / "0.2.0").mkdir()  # or a folder without its marker
    assert inst.installed() == []
    target = inst.install(wheels["0.2.0"], "0.2.0")
    assert inst.installed() == ["0.2.0"] and not (inst.versions / ".0.2.0.part").exists()
    assert updates.import_health(target, "0.2.0") == (True, "ok")


# --- a new schema: copied, migrated as a step of its own, put back on a rollback ---------------

@pytest.fixture
def library(tmp_path, inst):
    """A Pi's data folder with loans and a hold (tests/fixtures/schemas), migrated to this
    tree's schema by the installed 0.1.0, as the Pi has been running it."""
    data = unpack(6, tmp_path / "data")
    run(inst.current / "bin/thuvien", "migrate", "--data", data, cwd=tmp_path)
    return data


def _state(data):
    """Every row of every table, in SQL: equal states dump equal."""
    con = sqlite3.connect(data / "thuvien.db")
    try:
        return sorted(con.iterdump())
    finally:
        con.close()


def _schema(data, name="thuvien.db"):
    con = sqlite3.connect(data / name)
    try:
        return json.loads(con.execute("SELECT value FROM setting WHERE key = "
                                      "'schema_version'").fetchone()[0])
    finally:
        con.close()


def _served_by_the_old_version(inst, data, cwd):
    """0.1.0 opens the database as it was: verify passes, a copy is lent and returned."""
    assert inst.current_version() == "0.1.0"
    out = run(inst.current / "bin/thuvien", "verify", "--data", data, cwd=cwd)
    assert out.startswith("ok: integrity, event chains and state all check out")
    out = run(inst.runtime, "-c", DESK, (inst.current / "site").resolve(), data, cwd=cwd)
    assert out.split() == [str(SCHEMA_VERSION), "[]"]


def test_a_failed_migration_puts_the_database_back(tmp_path, inst, library, schema_wheels,
                                                   ring, hub_signing_key):
    before, calls = _state(library), []
    path = _bundle(tmp_path, schema_wheels["0.5.0"], hub_signing_key)
    result = updates.apply(path, inst, ring, data=library, stop=lambda: calls.append("stop"),
                           restart=lambda: calls.append("restart"), health=pytest.fail)
    assert result["result"] == "rolled_back" and result["database"] == "restored", result
    assert "a step of a test release failed" in result["reason"]
    assert result["reason"].startswith("migration failed (exit 1)")
    # stopped before the copy, started again on the old version; never switched
    assert calls == ["stop", "restart"]
    assert inst.installed() == ["0.1.0"] and "0.5.0" in inst.state()["failed"]
    # the first step had committed its table; the copy put back has none
    assert _state(library) == before and _schema(library) == SCHEMA_VERSION
    assert not list(library.glob("thuvien.db.*"))
    _served_by_the_old_version(inst, library, tmp_path)


def test_a_failed_health_check_after_a_migration_puts_the_database_back(
        tmp_path, inst, library, schema_wheels, ring, hub_signing_key):
    before, calls = _state(library), []

    def restart():
        calls.append(("restart", inst.current_version(), _schema(library)))

    def health(version_dir, version):
        calls.append("health")
        return False, "/login answered HTTP 500"

    path = _bundle(tmp_path, schema_wheels["0.4.0"], hub_signing_key)
    result = updates.apply(path, inst, ring, data=library, stop=lambda: calls.append("stop"),
                           restart=restart, health=health)
    assert result["result"] == "rolled_back" and result["database"] == "restored", result
    assert result["reason"] == "/login answered HTTP 500"
    new = SCHEMA_VERSION + 1
    assert calls == ["stop", ("restart", "0.4.0", new), "health",
                     "stop", ("restart", "0.1.0", SCHEMA_VERSION)]
    assert _state(library) == before
    _served_by_the_old_version(inst, library, tmp_path)


LEND = """
import sys
sys.path.insert(0, sys.argv[1])
from appliance.core import circulation, patrons
from appliance.core.context import Context
assert circulation.__file__.startswith(sys.argv[1]), circulation.__file__
ctx = Context.open(sys.argv[2])
circulation.checkout(ctx, "TV0006", "100002")
patrons.save(ctx, {"card": "TV0099", "name": "Lê Thị Hoa", "category": "adult",
                   "phone": "0912 345 678", "expiry": "2030-12-31"})
ctx.close()
"""
PHONE = """
import sys
sys.path.insert(0, sys.argv[1])
from appliance.core import patrons
from appliance.core.context import Context
ctx = Context.open(sys.argv[2])
print(patrons.find(ctx, "TV0099").phone)
ctx.close()
"""


def test_a_loan_made_while_the_new_version_was_checked_outlives_its_rollback(
        tmp_path, inst, library, schema_wheels, ring, hub_signing_key):
    """The new version serves for its health check, after the migration and the copy: a
    librarian lends a copy and makes a card then, the check fails, the copy of the
    database is put back, and both are in it, taken by the old version's own code
    (`thuvien update carry`; the card's key with it, so its sealed phone reads), which
    then lends and verifies as before."""
    def health(version_dir, version):
        run(inst.runtime, "-c", LEND, (inst.current / "site").resolve(), library, cwd=tmp_path)
        return False, "/opac/ answered HTTP 500"

    path = _bundle(tmp_path, schema_wheels["0.4.0"], hub_signing_key)
    result = updates.apply(path, inst, ring, data=library, health=health)
    assert result["result"] == "rolled_back" and result["database"] == "restored", result
    assert result["carried"] >= 3 and _schema(library) == SCHEMA_VERSION, result
    last = inst.status()["last"]  # what `thuvien update status` says
    assert (last["result"], last["database"], last["carried"]) == \
        ("rolled_back", "restored", result["carried"])
    con = sqlite3.connect(library / "thuvien.db")
    try:
        out = con.execute("SELECT p.card FROM loan l JOIN item i ON i.id = l.item_id "
                          "JOIN patron p ON p.id = l.patron_id WHERE i.barcode = '100002' "
                          "AND l.returned_at IS NULL").fetchall()
    finally:
        con.close()
    assert out == [("TV0006",)]
    assert not list((library / updates.COPY_DIR).glob("written-*"))
    site = (inst.current / "site").resolve()
    assert run(inst.runtime, "-c", PHONE, site, library, cwd=tmp_path).strip() == "0912 345 678"
    _served_by_the_old_version(inst, library, tmp_path)


def test_events_the_old_version_cannot_take_stay_in_a_file_for_staff(tmp_path, inst, library):
    """A rollback to a version that cannot take them (before `update carry`, or events
    that do not follow its log) keeps them beside the copy and says so."""
    forged = [{"id": "x", "origin": "elsewhere", "seq": 5, "hlc": 1, "wall": "w",
               "library": "PY-DH01", "kind": "loan.out", "body": {}, "prev_hash": "p",
               "hash": "not its hash"}]
    (library / updates.COPY_DIR).mkdir(parents=True)
    said = updates.carry_back(forged, inst, "0.1.0", library)
    assert said["carried"] == 0 and said["not_carried"] == 1, said
    assert "does not match its hash" in said["carry_error"]
    kept = library / updates.COPY_DIR / said["events_file"]
    assert json.loads(kept.read_text(encoding="utf-8")) == forged


def test_the_web_port_says_the_library_is_being_updated_while_it_migrates(
        tmp_path, inst, library, schema_wheels, ring, hub_signing_key, monkeypatch):
    """A browser that asks for the desk during the migration is told, in Vietnamese, that
    the system is being updated (503); the notice has left the port when the web service
    is started again on it."""
    from provisioning import notice
    from tests.conftest import free_port

    port, seen = free_port(), []
    migrate = updates.run_migration

    def asked_meanwhile(target, data):
        page = requests.get(f"http://127.0.0.1:{port}/desk/", timeout=5)
        seen.append((page.status_code, "đang được cập nhật" in page.text))
        return migrate(target, data)

    def restart():
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=3)
        seen.append("restart")

    monkeypatch.setattr(updates, "run_migration", asked_meanwhile)
    path = _bundle(tmp_path, schema_wheels["0.4.0"], hub_signing_key)
    result = updates.apply(path, inst, ring, data=library, restart=restart,
                           health=_check_import([]),
                           notice=lambda: notice.answer(("127.0.0.1", port)))
    assert result["result"] == "installed" and result["database"] == "migrated", result
    assert seen == [(503, True), "restart"]


def test_sync_is_paused_from_before_the_copy_until_the_update_has_ended(
        tmp_path, inst, library, schema_wheels, ring, hub_signing_key, monkeypatch):
    """What systemctl is asked through a migration whose health check fails, as the
    update unit runs it: sync (the timer and a run under way) stops with the web service
    before the copy is taken, and starts again only once the old version is back: no
    sync runs beside the migration or sends what the rolled-back version wrote."""
    said = fake_systemctl(tmp_path, monkeypatch)
    sync = ["thuvien-sync.timer", "thuvien-sync.service"]
    run_dir = tmp_path / "run/systemd/system"
    run_dir.mkdir(parents=True)
    services = updates.Services("thuvien-web.service", sync, units.Linker(inst.root, run_dir))
    seen_at_health = []

    def health(version_dir, version):
        seen_at_health.append(said.read_text().splitlines())
        return False, "/login answered HTTP 500"

    path = _bundle(tmp_path, schema_wheels["0.4.0"], hub_signing_key)
    try:
        result = updates.apply(path, inst, ring, data=library, stop=services.stop,
                               restart=services.restart, health=health)
    finally:
        services.resume()
    assert result["result"] == "rolled_back" and result["database"] == "restored", result
    pause = "stop " + " ".join(sync)
    # each version's units are linked and systemd reloaded before the web service
    # restarts under them (provisioning/units.py); what they enable starts at the end
    restart = ["daemon-reload", "restart thuvien-web.service"]
    assert seen_at_health == [["stop thuvien-web.service", pause, *restart]]
    enabled = units.link(inst.root, run_dir)["enabled"]
    assert "thuvien-web.service" in enabled and "thuvien-sync.timer" in enabled
    assert said.read_text().splitlines() == [
        "stop thuvien-web.service", pause, *restart,
        "stop thuvien-web.service", pause, *restart,
        "start --no-block " + " ".join(sync), "start --no-block " + " ".join(enabled)]
    web = run_dir / "thuvien-web.service"
    assert web.resolve() == (inst.versions / "0.1.0" / units.SHIPPED / web.name).resolve()


def test_a_new_schema_is_migrated_before_the_web_restarts(tmp_path, inst, library,
                                                          schema_wheels, ring,
                                                          hub_signing_key):
    copies = library / updates.COPY_DIR
    copies.mkdir(parents=True)
    (copies / "thuvien-before-0.0.9.db").write_bytes(b"an older update's copy")
    calls = []
    path = _bundle(tmp_path, schema_wheels["0.4.0"], hub_signing_key)
    result = updates.apply(path, inst, ring, data=library, stop=lambda: calls.append("stop"),
                           restart=lambda: calls.append(("restart", _schema(library))),
                           health=_check_import(calls))
    assert result == {"result": "installed", "version": "0.4.0", "previous": "0.1.0",
                      "database": "migrated"}
    # migrated while stopped: the restarted web service finds nothing left to migrate
    assert calls == ["stop", ("restart", SCHEMA_VERSION + 1), ("health", "0.4.0")]
    assert inst.current_version() == "0.4.0"
    out = run(inst.current / "bin/thuvien", "migrate", "--data", library, "--check",
              cwd=tmp_path)
    assert json.loads(out) == {"database": SCHEMA_VERSION + 1, "software": SCHEMA_VERSION + 1}
    # the copy of the database as 0.1.0 left it is kept, and only that one
    assert [p.name for p in copies.iterdir()] == ["thuvien-before-0.1.0.db"]
    assert _schema(copies, "thuvien-before-0.1.0.db") == SCHEMA_VERSION


def test_a_new_schema_from_sync_waits_for_the_window_and_sync_hands_it_over(
        tmp_path, inst, library, schema_wheels, ring, hub_signing_key):
    """An update that would stop the desk for a migration waits, changing nothing, until
    the update window (or the Pi's start); sync does not fetch it again meanwhile, and
    hands it back to the update when the window opens."""
    incoming, waiting = library / fetch.INCOMING, library / window.WAITING
    incoming.mkdir(parents=True)
    shutil.copy(_bundle(tmp_path, schema_wheels["0.4.0"], hub_signing_key),
                incoming / "thuvien-0.4.0.tvu")
    before = _state(library)
    results = updates.apply_pending(incoming, inst, ring, data=library, stop=pytest.fail,
                                    restart=pytest.fail, health=pytest.fail,
                                    may_migrate=lambda: False)
    assert results == [{"result": "waiting", "version": "0.4.0", "previous": "0.1.0",
                        "schema": [SCHEMA_VERSION, SCHEMA_VERSION + 1]}]
    assert inst.installed() == ["0.1.0"] and inst.current_version() == "0.1.0"
    assert inst.status()["last"]["result"] == "waiting"
    assert _state(library) == before and not (library / updates.COPY_DIR).exists()
    assert [p.name for p in waiting.iterdir()] == ["thuvien-0.4.0.tvu"]
    assert not list(incoming.glob("*.tvu"))
    assert fetch.seen(incoming, "thuvien-0.4.0.tvu")  # not downloaded again over the link

    # the update unit started again (another bundle, a USB stick): still closed, it waits
    results = updates.apply_pending(incoming, inst, ring, data=library, stop=pytest.fail,
                                    restart=pytest.fail, may_migrate=lambda: False)
    assert results == [] and [p.name for p in waiting.iterdir()] == ["thuvien-0.4.0.tvu"]
    # sync runs: closed, it leaves it; open, it hands it to the update, which runs it
    assert fetch.release_waiting(library, lambda: False) == []
    assert fetch.release_waiting(library, lambda: True) == ["thuvien-0.4.0.tvu"]
    calls = []
    results = updates.apply_pending(incoming, inst, ring, data=library,
                                    stop=lambda: calls.append("stop"),
                                    restart=lambda: calls.append("restart"),
                                    health=_check_import(calls), may_migrate=lambda: True)
    assert results == [{"result": "installed", "version": "0.4.0", "previous": "0.1.0",
                        "database": "migrated"}]
    assert calls == ["stop", "restart", ("health", "0.4.0")]
    assert _schema(library) == SCHEMA_VERSION + 1
    assert (incoming / "done/thuvien-0.4.0.tvu").exists() and not list(waiting.iterdir())


def test_an_update_with_the_same_schema_does_not_wait(tmp_path, inst, library, wheels, ring,
                                                      hub_signing_key):
    """A restart of a few seconds: it is installed when it comes, window or not."""
    incoming = library / fetch.INCOMING
    incoming.mkdir(parents=True)
    shutil.copy(_bundle(tmp_path, wheels["0.2.0"], hub_signing_key),
                incoming / "thuvien-0.2.0.tvu")
    results = updates.apply_pending(incoming, inst, ring, data=library, stop=pytest.fail,
                                    health=_check_import([]), may_migrate=lambda: False)
    assert [r["result"] for r in results] == ["installed"]
    assert inst.current_version() == "0.2.0" and not (library / window.WAITING).exists()


def test_the_waiting_folder_belongs_to_the_user_sync_runs_as(tmp_path):
    """The update runs as root; sync, as the web service's user, must move bundles out."""
    incoming = tmp_path / "updates/incoming"
    incoming.mkdir(parents=True)
    owner = (4242, 4343) if os.geteuid() == 0 else (os.getuid(), os.getgid())
    os.chown(incoming, *owner)
    updates._folder_like(incoming.with_name("waiting"), incoming)
    st = (tmp_path / "updates/waiting").stat()
    assert (st.st_uid, st.st_gid) == owner and st.st_mode & 0o777 == 0o750


def test_a_full_disk_refuses_a_new_schema_and_changes_nothing(tmp_path, inst, library,
                                                              schema_wheels, ring,
                                                              hub_signing_key, monkeypatch):
    before = _state(library)
    # the edge: what the file system says is free
    monkeypatch.setattr(updates.shutil, "disk_usage",
                        lambda path: Usage(1 << 40, 1 << 40, 5 << 20))
    path = _bundle(tmp_path, schema_wheels["0.4.0"], hub_signing_key)
    with pytest.raises(BundleRefused) as err:
        updates.apply(path, inst, ring, data=library, stop=pytest.fail, restart=pytest.fail)
    assert err.value.code == "update_no_space" and "5 MB free" in str(err.value)
    assert inst.current_version() == "0.1.0" and inst.installed() == ["0.1.0"]
    assert _state(library) == before
    assert not list((library / updates.COPY_DIR).iterdir())


@pytest.mark.postgres
def test_a_new_schema_on_postgresql_is_left_to_the_staff(tmp_path, inst, schema_wheels, ring,
                                                         hub_signing_key):
    """A library on a PostgreSQL server is backed up and migrated by its staff
    (docs/provisioning.md): a bundle with a new schema is refused there, untouched."""
    with hub_database("postgres") as url:
        datadir.init(tmp_path / "hub", "PY-HUB", "Thư viện tỉnh", role="hub",
                     database=url).close()
        path = _bundle(tmp_path, schema_wheels["0.4.0"], hub_signing_key)
        with pytest.raises(BundleRefused) as err:
            updates.apply(path, inst, ring, data=tmp_path / "hub", stop=pytest.fail,
                          restart=pytest.fail)
        assert err.value.code == "update_needs_staff"
        assert inst.current_version() == "0.1.0" and inst.installed() == ["0.1.0"]
        out = run(inst.current / "bin/thuvien", "migrate", "--data", tmp_path / "hub",
                  "--check", cwd=tmp_path)
        assert json.loads(out)["database"] == SCHEMA_VERSION


def test_the_migration_runs_as_the_library_owner_not_as_root(tmp_path):
    """The update unit runs as root; what a migration creates in the data folder (the
    database's -wal and -shm, a rebuilt file) must belong to the web service's user, or
    the restarted service could not write it. Run as the folder's owner: here `nobody`."""
    data = tmp_path / "data"
    data.mkdir()
    if os.geteuid() != 0:  # nothing to drop: run as this user, whoever owns the folder
        assert updates.as_owner(data) == {}
        return
    os.chown(data, 65534, 65534)
    kw = updates.as_owner(data)
    out = subprocess.run(["sh", "-c", "id -u; id -G"], capture_output=True, text=True,
                         check=True, **kw)
    assert out.stdout.split() == ["65534", "65534"]
    os.chown(data, 0, 0)
    assert updates.as_owner(data) == {}  # a folder of root's: as root
