"""The statements of the desk's loan path find their rows through selective indexes.

Without statistics (a library's SQLite is never ANALYZEd) the planner picks an index by
its shape alone. A lookup of a patron's or a record's holds at this library that it ran
through the index of the library's holds read every hold the library ever had: 3.5 ms
a loan with 20,000 of them, ten times the whole loan. The benchmark's library has no
holds, so only the plans tell. Each statement a loan, a return, a renewal, a hold and its
trap run here is explained, and none may read a large table whole or seek holds by the
library alone."""

from appliance.core import circulation, holds
from tests.conftest import staff_login
from tests.factories import loans_fall_due_today, migrated_from
from tests.query_plans import bad_steps, statements_of


def test_the_loan_path_reads_through_selective_indexes(ctx):
    bibs = ctx.bibs

    def desk_day():
        circulation.checkout(ctx, "P0001", "1001")
        loans_fall_due_today(ctx, "1001")  # (renewed below: the log holds it then)
        circulation.renew(ctx, "1001")
        hold = holds.place(ctx, "P0002", bibs[0].id)  # waits for the copy on loan
        circulation.checkin(ctx, "1001", at_desk=True)  # trapped for P0002
        circulation.checkout(ctx, "P0002", "1001")  # picks up the hold
        circulation.checkin(ctx, "1001")
        holds.place(ctx, "P0001", bibs[1].id)
        circulation.checkout(ctx, "P0001", "1002")  # fills their own waiting hold
        circulation.checkin(ctx, "1002")
        return hold

    statements = statements_of(ctx, desk_day)
    assert len(statements) > 30, "the trace saw the desk's statements"
    bad = bad_steps(ctx, statements)
    assert not bad, "\n".join(f"{step}  in  {sql}" for step, sql in bad)


def test_the_hold_shelf_and_housekeeping_read_through_selective_indexes(ctx, client):
    from appliance.core.models import Hold

    circulation.checkout(ctx, "P0001", "1001")
    holds.place(ctx, "P0002", ctx.bibs[0].id)
    holds.place(ctx, "P0001", ctx.bibs[1].id)
    Hold.update(pickup_by="2000-01-01").execute()  # (none ready: nothing expires)
    staff_login(client)

    def shelf_and_rounds():
        assert client.get("/desk/holds").status_code == 200
        holds.expire_pickups(ctx)
        holds.stranded(ctx.library, {ctx.bibs[0].id: []})
        holds.pull_list(ctx.library)

    statements = statements_of(ctx, shelf_and_rounds)
    assert len(statements) > 5, "the trace saw the statements"
    bad = bad_steps(ctx, statements)
    assert not bad, "\n".join(f"{step}  in  {sql}" for step, sql in bad)


def _past_holds(ctx, count):
    """`count` holds the library had over a year, ended, one of them replaced (rows only:
    the plans, not the log, are read)."""
    from appliance.core.models import Hold, Patron

    patron = Patron.get(Patron.card == "P0001")
    Hold.insert_many([dict(id=f"past-{n:05d}", patron=patron.id, bib=ctx.bibs[n % 5].id,
                           library=ctx.library, placed_at="2025-06-01T09:00:00+07:00",
                           status=("fulfilled", "cancelled", "expired")[n % 3],
                           replaced="told" if n % 50 else "found")
                      for n in range(count)]).execute()


def test_asking_holds_again_reads_only_the_replaced_ones(ctx):
    """Housekeeping asks again every quarter of an hour: its first lookup (the replaced
    holds to say) sought the library's holds by the library alone, all of them."""
    _past_holds(ctx, 3000)
    statements = statements_of(ctx, lambda: holds.reask(ctx))
    assert any("replaced" in sql for sql in statements), "the trace saw the lookup"
    bad = bad_steps(ctx, statements)
    assert not bad, "\n".join(f"{step}  in  {sql}" for step, sql in bad)


def test_the_check_finds_what_it_refuses(ctx):
    """Holds sought by the library alone, and a large table read whole, are found."""
    assert bad_steps(ctx, ["SELECT id FROM hold WHERE library = 'PY-DH01' "
                            "AND placed_at = '2026-01-01'"])
    assert bad_steps(ctx, ["SELECT id FROM loan WHERE fee > 0"])
    assert not bad_steps(ctx, ["SELECT id FROM loan WHERE id = 'x'"])
    assert not bad_steps(ctx, ["SELECT staff FROM training_roster WHERE library = 'x'"])
    assert bad_steps(ctx, ['SELECT "t1"."id" FROM "loan" AS "t1" WHERE "t1"."fee" > 0'])
    assert bad_steps(ctx, ["SELECT COUNT(*) FROM item i WHERE i.price > 0"])
    assert bad_steps(ctx, ["SELECT library, COUNT(*) FROM loan GROUP BY library"])  # its index
    assert not bad_steps(ctx, ["SELECT COUNT(*) FROM hold WHERE replaced IS NOT NULL"])


def test_migration_31_gives_an_older_library_the_indexes(tmp_path):
    new = ("hold_bib_id_library_status", "hold_library_status", "item_bib_id_library")
    old = {"hold_bib_id": "hold (bib_id)", "hold_library": "hold (library)",
           "item_bib_id": "item (bib_id)", "item_library": "item (library)"}
    with migrated_from(tmp_path / "thuvien.db", 30,
                       *(f"DROP INDEX {name}" for name in new),
                       *(f"CREATE INDEX {name} ON {on}" for name, on in old.items())) as db:
        names = {row[0] for row in db.execute_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert set(new) <= names and not set(old) & names


def test_migration_32_gives_an_older_library_the_indexes(tmp_path):
    new = ("hold_library_replaced", "remote_request_library_state", "remote_request_state",
           "bib_marked")
    with migrated_from(tmp_path / "thuvien.db", 31,
                       *(f"DROP INDEX {name}" for name in new),
                       "CREATE INDEX remote_request_library ON remote_request (library)") as db:
        names = {row[0] for row in db.execute_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert set(new) <= names and "remote_request_library" not in names


def test_an_index_on_a_column_a_later_migration_adds_waits_for_it(tmp_path):
    """A step that makes the records' indexes (migration 12) on a library from before
    their marks (migration 18) leaves the index of the marked ones to a later step."""
    from appliance.core import db as dbmod
    from appliance.core.models import Bib

    db = dbmod.connect(str(tmp_path / "thuvien.db"))
    try:
        for sql in ("DROP INDEX bib_marked", "DROP INDEX bib_isbn",
                    "ALTER TABLE bib DROP COLUMN rare"):
            db.execute_sql(sql)
        dbmod._reindex([], Bib)(db)
        names = {row[0] for row in db.execute_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "bib_isbn" in names and "bib_marked" not in names
        db.execute_sql("ALTER TABLE bib ADD COLUMN rare INTEGER NOT NULL DEFAULT 0")
        dbmod._reindex([], Bib)(db)
        assert db.execute_sql("SELECT 1 FROM sqlite_master WHERE name = 'bib_marked'").fetchone()
    finally:
        db.close()


def test_cataloguing_copies_and_cards_reads_through_selective_indexes(ctx):
    """Each copy or card saved asks who else holds its barcode or card number. The
    question sought the library's copies by the library alone, every one of them: a
    tenth of a second a copy at 50,000 copies, and the benchmark's load grew with the
    square of its copies."""
    from appliance.core import catalogue, patrons

    def cataloguing():
        item = catalogue.save_item(ctx, {"bib": ctx.bibs[0].id, "barcode": "7001"})
        catalogue.save_item(ctx, {"id": item.id, "barcode": "7002"})
        card = patrons.save(ctx, {"card": "P7001", "name": "Lê Văn Bình", "category": "adult"})
        patrons.save(ctx, {"id": card.id, "card": "P7002"})

    statements = statements_of(ctx, cataloguing)
    asked = [sql for sql in statements if '"id" !=' in sql]
    assert any('"barcode" =' in sql for sql in asked) and any('"card" =' in sql for sql in asked)
    bad = bad_steps(ctx, statements)
    assert not bad, "\n".join(f"{step}  in  {sql}" for step, sql in bad)
