"""The command line as the town's scripts use it: init, user add, verify, rebuild,
backup and restore, with clear errors for bad input."""

import sqlite3
import subprocess
import sys

import pytest

from appliance.core import circulation
from appliance.core.context import Context


def thuvien(*args, input=None):
    return subprocess.run([sys.executable, "-m", "appliance.cli", *args], capture_output=True,
                          text=True, input=input, timeout=120)


@pytest.fixture
def folder(tmp_path):
    data = tmp_path / "lib"
    r = thuvien("init", "--data", str(data), "--library", "PY-TH02", "--name", "Thư viện trường")
    assert r.returncode == 0, r.stderr
    return data


def test_init_refuses_bad_codes_and_a_second_init(tmp_path, folder):
    r = thuvien("init", "--data", str(tmp_path / "x"), "--library", "bad code", "--name", "X")
    assert r.returncode == 1 and "library code" in r.stderr
    r = thuvien("init", "--data", str(folder), "--library", "PY-TH02", "--name", "X")
    assert r.returncode == 1 and "already holds a library" in r.stderr


def test_user_add_reads_the_password_from_stdin(folder):
    r = thuvien("user", "add", "thuthu", "--role", "librarian", "--password-stdin",
                "--data", str(folder), input="mot-mat-khau-dai\n")
    assert r.returncode == 0, r.stderr
    r = thuvien("user", "add", "ngan", "--role", "librarian", "--password-stdin",
                "--data", str(folder), input="short\n")
    assert r.returncode == 1 and "at least 10" in r.stderr
    from appliance.core import users
    ctx = Context.open(folder)
    assert users.authenticate(ctx, "thuthu", "mot-mat-khau-dai").role == "librarian"


def test_verify_finds_a_forged_row_and_rebuild_repairs_it(folder):
    assert thuvien("verify", "--data", str(folder)).returncode == 0
    con = sqlite3.connect(folder / "thuvien.db")
    con.execute("UPDATE loan_rule SET loan_days = 365")
    con.commit()
    con.close()
    r = thuvien("verify", "--data", str(folder))
    assert r.returncode == 1 and "LoanRule" in r.stdout
    assert thuvien("rebuild", "--data", str(folder)).returncode == 0
    assert thuvien("verify", "--data", str(folder)).returncode == 0


def test_backup_and_restore_round_trip(tmp_path, ctx):
    circulation.checkout(ctx, "P0001", "1001")
    data = str(ctx.data_dir)
    ctx.close()
    backup = tmp_path / "backups" / "one.db"
    r = thuvien("backup", "--data", data, "--to", str(backup))
    assert r.returncode == 0, r.stderr
    assert "pages" in r.stderr  # progress was shown
    ctx = Context.open(data)
    circulation.checkin(ctx, "1001")  # a change after the backup
    ctx.close()
    r = thuvien("restore", "--data", data, "--from", str(backup))
    assert r.returncode == 0, r.stdout + r.stderr
    from appliance.core.models import Item
    ctx = Context.open(data)
    assert Item.get(Item.barcode == "1001").status == "on_loan"
    ctx.close()


def test_backup_folder_rotates(tmp_path, folder):
    target = tmp_path / "nightly"
    target.mkdir()
    for n in range(4):
        (target / f"thuvien-2026010{n}-000000.db").write_bytes(b"old")
    r = thuvien("backup", "--data", str(folder), "--to", str(target), "--keep", "2")
    assert r.returncode == 0, r.stderr
    assert len(list(target.glob("thuvien-*.db"))) == 2


def test_restore_refuses_a_damaged_file_and_changes_nothing(tmp_path, folder):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    before = (folder / "thuvien.db").read_bytes()
    r = thuvien("restore", "--data", str(folder), "--from", str(bad))
    assert r.returncode == 1 and "bad.db" in r.stderr
    assert (folder / "thuvien.db").read_bytes() == before
    r = thuvien("restore", "--data", str(folder), "--from", str(tmp_path / "missing.db"))
    assert r.returncode == 1 and "does not exist" in r.stderr


def test_missing_data_folder_is_a_clear_error(tmp_path):
    r = thuvien("verify", "--data", str(tmp_path / "nowhere"))
    assert r.returncode == 1 and "thuvien init" in r.stderr


def test_settings_changed_on_disk_take_effect_without_a_restart(folder):
    import os

    from appliance.core.context import load_settings, save_settings
    ctx = Context.open(folder)
    assert ctx.settings["kiosk_pin_required"] is True
    settings = load_settings(folder)
    settings["kiosk_pin_required"] = False
    save_settings(folder, settings)
    stamp = (folder / "settings.json").stat().st_mtime_ns + 1_000_000
    os.utime(folder / "settings.json", ns=(stamp, stamp))  # coarse clocks: make it visible
    assert ctx.settings["kiosk_pin_required"] is False
    ctx.close()


def test_an_older_database_is_migrated_at_start(folder):
    con = sqlite3.connect(folder / "thuvien.db")
    con.execute("ALTER TABLE event DROP COLUMN relayed")  # as schema 1 had it
    con.execute("DROP INDEX loan_patron_id_returned_at")  # schema 3 replaced one index
    con.execute("CREATE INDEX loan_patron_id ON loan (patron_id)")  # by this one
    con.execute("DROP INDEX event_item_saved")  # added by schema 5
    con.execute("DROP INDEX event_hold_trapped")
    con.execute("ALTER TABLE item DROP COLUMN condition")  # added by schema 8
    con.execute("ALTER TABLE item DROP COLUMN transit_hlc")
    con.execute("DROP TABLE field_edit")
    con.execute("DROP TABLE stamp")
    con.execute("ALTER TABLE loan DROP COLUMN return_hlc")  # added by schema 11
    con.execute("UPDATE setting SET value = '1' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    from appliance.core import db
    ctx = Context.open(folder)
    assert db.schema_version(ctx.db) == db.SCHEMA_VERSION
    assert "return_hlc" in [c.name for c in ctx.db.get_columns("loan")]
    assert "relayed" in [c.name for c in ctx.db.get_columns("event")]
    indexes = [i.name for i in ctx.db.get_indexes("loan")]
    assert "loan_patron_id_returned_at" in indexes and "loan_patron_id" not in indexes
    assert {"event_item_saved", "event_hold_trapped", "event_loan_renew"} <= {
        i.name for i in ctx.db.get_indexes("event")}
    assert {"visit", "visit_tally", "in_library_use"} <= set(ctx.db.get_tables())
    ctx.close()
    assert thuvien("verify", "--data", str(folder)).returncode == 0


def test_a_database_from_newer_software_is_refused(folder):
    con = sqlite3.connect(folder / "thuvien.db")
    con.execute("UPDATE setting SET value = '99' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    r = thuvien("verify", "--data", str(folder))
    assert r.returncode == 1 and "newer than this software" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_command_that_fails_closes_the_library_and_says_why(ctx, capsys):
    """`opened` closes the library however the command ends; a refusal from the core goes
    on to main in English, or is said in the command's language when it gives its `tr`."""
    from argparse import Namespace

    from appliance.cli import Failed, main, opened, translator
    from appliance.core import patrons
    from appliance.core.errors import NotFound

    args = Namespace(data=str(ctx.data_dir))
    with pytest.raises(NotFound, match="No patron has card X-1"):
        with opened(args) as held:
            patrons.find(held, "X-1")
    assert held.db.is_closed()
    with pytest.raises(Failed, match="Không có bạn đọc nào mang số thẻ X-1"):
        with opened(args, translator("vi")) as held:
            patrons.find(held, "X-1")
    assert held.db.is_closed()
    with pytest.raises(RuntimeError):  # anything else too: closed, and not caught here
        with opened(args, translator("vi")) as held:
            raise RuntimeError("boom")
    assert held.db.is_closed()
    assert main(["patrons", "erase", "X-1", "--data", str(ctx.data_dir)]) == 1
    assert capsys.readouterr().err == "thuvien: Không có bạn đọc nào mang số thẻ X-1.\n"
