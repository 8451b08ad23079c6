"""Cards, names and titles as people type them, on SQLite and PostgreSQL: a card in any
case and with spaces around it, a name or title without its marks, lists in Vietnamese
order; and migration 12, which fills the keys of rows saved before it."""

import pytest

from appliance.core import catalogue, circulation, dialect, findkeys, patrons
from appliance.core import db as dbmod
from appliance.core.errors import Invalid
from appliance.core.fold import name_sort_key
from appliance.core.models import Bib, Patron
from tests.catalogue.backends import BACKENDS, library


@pytest.fixture(params=BACKENDS)
def ctx(request, data_dir):
    with library(data_dir, request.param) as context:
        yield context


def test_a_card_is_found_in_any_case_and_without_its_spaces(ctx):
    for typed in ("P0001", "p0001", "  p0001 ", "P0001\t"):
        assert patrons.find(ctx, typed).name == "Nguyễn Văn An"
    # the desk's one-statement path (circulation.BORROWER) matches the same way
    circulation.checkout(ctx, " p0002 ", "1001")
    borrower = patrons.find(ctx, "P0002")
    assert [loan.item.barcode for loan in patrons.open_loans(borrower)] == ["1001"]
    assert circulation.BORROWER.first("p0002", ctx.library,
                                      ctx.clock.today().isoformat()).id == borrower.id


def test_a_card_differing_only_in_case_is_taken(ctx):
    with pytest.raises(Invalid) as refused:
        patrons.save(ctx, {"card": "p0001", "name": "Lê Văn Cường", "category": "adult"})
    assert refused.value.code == "card_taken"


def _register(ctx, *names):
    for n, name in enumerate(names):
        patrons.save(ctx, {"card": f"K{n:04d}", "name": name, "category": "adult"})


def test_a_name_is_found_without_its_marks(ctx):
    _register(ctx, "Nguyễn Thị Đào", "Đặng Nguyên Khôi")
    found = [p.name for p in patrons.search(ctx, "nguyen")]
    assert set(found) == {"Nguyễn Văn An", "Nguyễn Thị Đào", "Đặng Nguyên Khôi"}
    assert [p.name for p in patrons.search(ctx, "NGUYEN dao")] == ["Nguyễn Thị Đào"]
    assert [p.name for p in patrons.search(ctx, "dang")] == ["Đặng Nguyên Khôi"]
    assert [p.card for p in patrons.search(ctx, " p000")] == ["P0001", "P0002"]


def test_patrons_are_listed_by_given_name_in_vietnamese_order(ctx):
    """By the given name, as a Vietnamese register is kept: A < Ă < Â, D < Đ, O < Ô < Ơ;
    code-point order (and PostgreSQL's locale) would put Đ after every plain letter."""
    _register(ctx, "Lê Văn Đức", "Trần Thị Vân", "Phan Ơn", "Võ Ôn", "Hồ Văn Dũng",
              "Mai Thị Ân", "Đỗ Ăn")
    names = [p.name for p in patrons.search(ctx, "")]
    assert names == ["Nguyễn Văn An", "Đỗ Ăn", "Mai Thị Ân", "Trần Thị Bình",
                     "Hồ Văn Dũng", "Lê Văn Đức", "Phạm Gia Huy", "Hoàng Thị Lan",
                     "Võ Ôn", "Phan Ơn", "Trần Thị Vân"]
    assert names == sorted(names, key=name_sort_key)
    assert _sort_collation(ctx.db) == "C"


def _sort_collation(db):
    """The collation PostgreSQL compares patron sort keys under ("C": code points, as
    the keys are built for); SQLite compares bytes of UTF-8, the same order."""
    if not dialect.is_postgres(db):
        return "C"
    return db.execute_sql(
        "SELECT collation_name FROM information_schema.columns WHERE table_schema = "
        "current_schema() AND table_name = 'patron' AND column_name = 'name_sort'"
    ).fetchone()[0]


def test_records_for_staff_fold_and_sort_in_vietnamese_order(ctx):
    for title in ("Vợ nhặt", "Đất rừng phương Nam", "Ăn mày dĩ vãng", "Ông già và biển cả"):
        catalogue.save_bib(ctx, {"title": title, "authors": ["Khuyết danh"]})
    titles = [b.title for b in catalogue.find_records(ctx, "")[1]]
    assert titles.index("Đất rừng phương Nam") < titles.index("Lịch sử Phú Yên")
    assert titles.index("Dế Mèn phiêu lưu ký") < titles.index("Đất rừng phương Nam")
    assert titles.index("Ăn mày dĩ vãng") < titles.index("Ông già và biển cả") < \
        titles.index("Vợ nhặt")
    in_order = ["Ăn mày dĩ vãng", "Đất rừng phương Nam", "Ông già và biển cả", "Vợ nhặt"]
    total, found, ranked = catalogue.find_records(ctx, "khuyet danh")  # a search, in order
    assert (total, [b.title for b in found], ranked) == (4, in_order, False)
    catalogue.TITLE_ORDER_MAX = 3  # past it: the best matches, put in title order
    try:
        total, found, ranked = catalogue.find_records(ctx, "khuyet danh")
    finally:
        catalogue.TITLE_ORDER_MAX = 2000
    assert (total, [b.title for b in found], ranked) == (4, in_order, True)
    assert [b.title for b in catalogue.find_records(ctx, "de men")[1]] == ["Dế Mèn phiêu lưu ký"]
    assert [b.title for b in catalogue.find_records(ctx, "dat rung")[1]] == [
        "Đất rừng phương Nam"]
    assert [b.title for b in catalogue.find_records(ctx, "978-604-0000-01-9")[1]] == [
        "Truyện Kiều"]


def test_the_keys_follow_an_edit(ctx):
    p = patrons.find(ctx, "P0002")
    patrons.save(ctx, {"id": p.id, "card": "tv-9", "name": "Trần Thị Bích"})
    assert patrons.find(ctx, "TV-9").name == "Trần Thị Bích"
    assert [x.card for x in patrons.search(ctx, "bich")] == ["tv-9"]


def test_migration_10_fills_the_keys_of_rows_saved_before_it(ctx, data_dir):
    """A database from before the keys: no key columns. Opening it adds and fills them."""
    db = ctx.db
    for table, column, *_ in dbmod._KEY_COLUMNS:
        for index in db.get_indexes(table):
            if column in index.columns:
                db.execute_sql(f"DROP INDEX {index.name}")
        db.execute_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
    # from schema 7: migration 8 replays the log with the models of now, keys included
    db.execute_sql("UPDATE setting SET value = '7' WHERE key = 'schema_version'")
    dbmod.migrate(db)
    assert dbmod.schema_version(db) == dbmod.SCHEMA_VERSION
    assert patrons.find(ctx, " c0001").name == "Phạm Gia Huy"
    held = Patron.get(Patron.card == "P0001")
    assert (held.card_key, held.name_key) == ("P0001", "nguyen van an")
    kieu = Bib.get(Bib.title == "Truyện Kiều")
    assert (kieu.dup_key, kieu.isbn13) == ("truyen kieu|nguyen du", "9786040000019")
    assert {("card_key", "library"), ("library", "deleted", "name_sort", "name_key",
                                       "card_key")} <= {tuple(i.columns)
                                                        for i in db.get_indexes("patron")}
    assert _sort_collation(db) == "C"


def test_isbn_10_and_13_are_one_key():
    assert findkeys.isbn13("080442957X") == "9780804429573"
    assert findkeys.isbn13("9780804429573") == "9780804429573"
    assert findkeys.isbn13(None) is None
    assert findkeys.dup_key("  Truyện KIỀU! ", ["Nguyễn Du"]) == "truyen kieu|nguyen du"
    assert findkeys.card_key("  tv0001 ") == "TV0001"


def test_a_card_is_one_index_seek(ctx):
    """The desk, kiosk and SIP2 look a card up on every loan: a seek on its key and
    library, never a walk through the library's cards (as SQLite chose when the key had
    an index of its own beside the library's)."""
    sql = patrons.BY_CARD._compiled()[0]
    if dialect.is_postgres(ctx.db):  # a few rows: PostgreSQL would rather read them all
        ctx.db.execute_sql("SET enable_seqscan = off")
        try:
            plan = " ".join(r[0] for r in ctx.db.execute_sql(
                "EXPLAIN " + sql.replace("%s", "'X'"), ()).fetchall())
        finally:
            ctx.db.execute_sql("RESET enable_seqscan")
        assert "patron_card_key_library" in plan, plan
        return
    plan = ctx.db.execute_sql("EXPLAIN QUERY PLAN " + sql, ("p0001", ctx.library)).fetchall()
    assert "card_key=? AND library=?" in " ".join(str(r[-1]) for r in plan), plan
