"""A Pi updated from an old version: its database, made by that version's own code
(tests/fixtures/schemas, README.md there), is opened by today's, which migrates it as
after an update. It must reach today's schema, pass `thuvien verify`, and keep its loans,
patrons and copies working."""

import gzip
import json
import shutil
import sqlite3
from pathlib import Path

import peewee as pw
import pytest

from appliance.core import circulation, db, models, verify
from appliance.core.context import Context
from appliance.core.fees import balance
from appliance.core.models import Fee, FeePayment, Hold, Item, Loan, Patron, User
from tests.factories import LIB, seed
from tests.sync.syncsupport import BACKENDS, connected_hub_database

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "schemas"
OLD = sorted(int(p.name.split("-")[1].split(".")[0]) for p in FIXTURES.glob("schema-*.db.gz"))


def unpack(version, data_dir):
    """The data folder of a Pi at schema `version`: its database and settings.json."""
    data_dir.mkdir()
    with gzip.open(FIXTURES / f"schema-{version}.db.gz", "rb") as f, \
            open(data_dir / "thuvien.db", "wb") as out:
        shutil.copyfileobj(f, out)
    shutil.copy(FIXTURES / f"schema-{version}.settings.json", data_dir / "settings.json")
    return data_dir


def test_the_fixtures_span_the_old_schemas():
    """The first version, then one at least every six (a new one: make.py, README.md)."""
    ends = [*OLD, db.SCHEMA_VERSION]
    assert OLD[0] <= 2 and all(b - a <= 6 for a, b in zip(ends, ends[1:], strict=False))


@pytest.mark.parametrize("version", OLD)
def test_an_old_database_is_migrated_and_keeps_working(version, tmp_path):
    ctx = Context.open(unpack(version, tmp_path / "data"))
    try:
        assert db.schema_version(ctx.db) == db.SCHEMA_VERSION
        assert verify.verify(ctx) == []
        held_by_its_old_code(ctx)
        lends_and_takes_back(ctx)
        assert verify.verify(ctx) == []
    finally:
        ctx.close()
    ctx = Context.open(tmp_path / "data")  # opened again: nothing left to migrate
    try:
        assert verify.verify(ctx) == []
    finally:
        ctx.close()


def held_by_its_old_code(ctx):
    """What tests/fixtures/schemas/make.py made there."""
    assert Patron.select().count() == 6
    assert Item.select().count() >= 8
    first = Loan.item << Item.select(Item.id).where(Item.barcode <= "100005")  # not fees'
    open_loans = {(loan.patron.card, loan.item.barcode)
                  for loan in Loan.select().where(Loan.returned_at.is_null() & first)}
    assert open_loans == {("TV0001", "100001"), ("TV0003", "100004"), ("TV0005", "100005")}
    assert Loan.select().where(Loan.returned_at.is_null(False) & first).count() == 2
    if Fee.select().exists():  # made from schema 32 on (make.py)
        its_fees_as_they_were()
    assert [h.patron.card for h in Hold.select()] == ["TV0002"]
    assert User.get(User.username == "thuthu").role == "librarian"
    assert Item.get(Item.barcode == "100001").status == "on_loan"
    assert Item.get(Item.barcode == "100002").status == "available"


def its_fees_as_they_were():
    """A lost copy paid for, a damaged one waived, one owed: each settlement a payment
    row of its own (migration 33), and the copy lost still out on its loan."""
    said = {Item.get_by_id(fee.item).barcode: (fee.kind, fee.state, fee.amount)
            for fee in Fee.select()}
    assert said == {"100006": ("lost", "paid", 60000), "100007": ("damaged", "waived", 60000),
                    "100008": ("damaged", "open", 60000)}
    rows = sorted((p.kind, p.amount, p.reason) for p in FeePayment.select())
    assert rows == [("payment", 60000, None), ("waiver", 60000, "Sách đã cũ")]
    owed = Fee.get(Fee.state == "open")
    assert balance.balances([owed]) == {owed.id: 60000}
    assert Loan.get(Loan.item == Item.get(Item.barcode == "100006").id).returned_at is None


def test_a_migration_that_changes_the_fees_alone_makes_the_fees_alone_again(tmp_path,
                                                                           monkeypatch):
    """From schema 32, migration 33 applies again the fee events, not the whole log (a
    year of loans took many minutes on a Pi, the desk closed meanwhile); what it makes is
    what a whole rebuild makes (`verify`, in the test above)."""
    from appliance.core import projector

    applied, apply = [], projector.apply

    def noting(ctx, ev, *args, **kwargs):
        applied.append(ev.kind)
        return apply(ctx, ev, *args, **kwargs)

    monkeypatch.setattr(projector, "apply", noting)
    ctx = Context.open(unpack(32, tmp_path / "data"))
    try:
        assert sorted(applied) == ["fee.charged"] * 3 + ["fee.paid", "fee.waived"]
        monkeypatch.setattr(projector, "apply", apply)
        its_fees_as_they_were()
        assert verify.verify(ctx) == []
    finally:
        ctx.close()


def lends_and_takes_back(ctx):
    circulation.checkin(ctx, "100001")  # the copy TV0002 waits for
    circulation.checkout(ctx, "TV0002", "100001")  # the hold kept since, filled
    assert Loan.get(Loan.returned_at.is_null(),
                    Loan.item == Item.get(Item.barcode == "100001")).patron.card == "TV0002"
    circulation.checkin(ctx, "100004")
    circulation.checkout(ctx, "TV0006", "100002")
    circulation.checkin(ctx, "100002")
    circulation.checkout(ctx, "TV0001", "100004")
    assert Loan.get(Loan.returned_at.is_null(),
                    Loan.item == Item.get(Item.barcode == "100004")).patron.card == "TV0001"
    assert Item.get(Item.barcode == "100002").status == "available"


def test_migration_7_clears_other_libraries_patrons_of_a_schema_6_database(tmp_path):
    """Migration 7 on the database as schema 6 left it, with a card of another library and
    an edit conflict of its phone: today's patrons and conflicts have columns that later
    steps add, which it must not read or write there."""
    data = unpack(6, tmp_path / "data")
    path = str(data / "thuvien.db")
    with sqlite3.connect(path) as con:
        con.execute(
            "INSERT INTO patron (id, library, card, name, category, guardian_consent, phone, "
            "blocked, keep_history, created_at, deleted, field_hlc) VALUES ('p-other', "
            "'PY-KHAC', 'KH0001', 'Đỗ Thị Mai', 'adult', 0, '0905 000 111', 0, 0, "
            "'2026-11-30T08:00:00+07:00', 0, '{\"phone\": 1, \"name\": 1}')")
        con.execute(
            "INSERT INTO conflict (id, kind, library, entity, event, details, created_at, "
            "status) VALUES ('c-other', 'edit_conflict', 'PY-KHAC', 'p-other', 'e', "
            "'{\"model\": \"Patron\", \"field\": \"phone\"}', '2026-11-30T08:00:00+07:00', "
            "'open')")
    old = pw.SqliteDatabase(path, pragmas={"foreign_keys": 1})
    models.database_proxy.initialize(old)
    try:
        with old.atomic():
            db._patron_data_home(old, {"library": "PY-DH01", "role": "branch",
                                       "origin": "py-dh01-x"})
        phone, stamps = old.execute_sql(
            "SELECT phone, field_hlc FROM patron WHERE id = 'p-other'").fetchone()
        assert phone is None and json.loads(stamps) == {"name": 1}
        assert old.execute_sql("SELECT COUNT(*) FROM conflict").fetchone()[0] == 0
        assert old.execute_sql("SELECT COUNT(*) FROM patron WHERE phone IS NULL "
                               "AND library = 'PY-DH01'").fetchone()[0] == 6
    finally:
        old.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_23_adds_a_patrons_wish_beside_their_loans(backend, tmp_path):
    """Patrons with loans, as schema 22 had them: the column migration 23 adds (not null)
    is added in place, not by copying the table, which the loans' foreign keys forbid on
    SQLite. On both databases a hub may use."""
    with connected_hub_database(backend, tmp_path) as hub_db:
        ctx = Context.for_db(hub_db, LIB)
        seed(ctx)
        circulation.checkout(ctx, "P0001", "1001")
        hub_db.execute_sql("ALTER TABLE patron DROP COLUMN suggestions")
        db._set_version(22)
        db.migrate(hub_db)
        assert db.schema_version(hub_db) == db.SCHEMA_VERSION
        column = next(c for c in hub_db.get_columns("patron") if c.name == "suggestions")
        assert not column.null
        assert {p.suggestions for p in Patron.select()} == {False}
        assert Loan.get(Loan.returned_at.is_null()).patron.card == "P0001"
        circulation.checkin(ctx, "1001")
