"""The desk's loan and return stay as few statements as they are (bench.core holds a
cycle within 3x two bare durable commits; every statement and every b-tree written
counts between the fsyncs). A change that adds a statement to this path fails here:
add it to the list below with the reason it must run on every loan."""

import sqlite3

import peewee as pw

from appliance.core import circulation, db, dialect, events, verify
from appliance.core.context import Context
from appliance.core.models import Event, Loan

# Each statement of a plain loan (a card of this library, a copy on the shelf, no hold)
# and of its return, by how it begins, with why it runs.
LOAN = [
    "BEGIN IMMEDIATE",  # the write lock: two desks cannot both lend the copy
    "SELECT e.pos, e.hlc, e.origin",  # the log's end: its clock, our tail; the rules' stamp
    'SELECT "t1"."id", "t1"."library", "t1"."card"',  # the card, its loans and late ones
    'SELECT "t1"."id", "t1"."bib_id"',  # the copy, its ready hold, open loan, own hold
    "INSERT INTO event",  # the loan.out event
    'INSERT OR IGNORE INTO "loan"',  # its loan
    "UPDATE item SET",  # the copy's journey and status
    "COMMIT",
]
RETURN = [
    "BEGIN IMMEDIATE",
    "SELECT e.pos, e.hlc, e.origin",
    'SELECT "t1"."id", "t1"."bib_id"',  # the copy, its open loan, whether a hold waits
    "INSERT INTO event",  # the loan.in event
    'UPDATE "loan" SET',  # the loan's end
    "UPDATE item SET",  # the copy's journey and status
    "COMMIT",
]


def _traced(fn):
    """The statements `fn` runs on this thread's connection, as SQLite runs them."""
    seen = []
    connection = dialect.connection()
    connection.set_trace_callback(seen.append)
    try:
        fn()
    finally:
        connection.set_trace_callback(None)
    return [" ".join(statement.split()) for statement in seen]


def _shape(statements, expected):
    return len(statements) == len(expected) and all(
        s.startswith(e) for s, e in zip(statements, expected, strict=True))


def test_a_loan_and_its_return_run_these_statements_and_no_more(ctx):
    circulation.checkout(ctx, "P0001", "1001")  # the first loan reads the rules once
    circulation.checkin(ctx, "1001")
    lent = _traced(lambda: circulation.checkout(ctx, "P0001", "1001"))
    returned = _traced(lambda: circulation.checkin(ctx, "1001"))
    assert _shape(lent, LOAN), "a loan's statements changed:\n" + "\n".join(lent)
    assert _shape(returned, RETURN), "a return's statements changed:\n" + "\n".join(returned)


# The b-trees each transaction writes a page of (the log, its id and chain indexes; the
# loan, stored by its id, and its copy, patron and library indexes; the copy's row).
B_TREES = {"event", "event_id", "event_origin_seq", "loan", "loan_item_id_returned_at",
           "loan_patron_id_returned_at", "loan_library_returned_at_due_date", "item"}


def _written(ctx, fn):
    """The names of the b-trees whose pages `fn`'s transaction wrote: its frames in the
    write-ahead log, each page named by SQLite's own table of pages."""
    ctx.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    fn()
    wal = (ctx.data_dir / "thuvien.db-wal").read_bytes()
    size = int.from_bytes(wal[8:12], "big")
    pages = {int.from_bytes(wal[at:at + 4], "big") for at in range(32, len(wal), 24 + size)}
    names = dict((pageno, name) for name, pageno in ctx.db.execute_sql(
        "SELECT name, pageno FROM dbstat"))
    # (the first page holds the file's length, written when a b-tree grows by a page)
    return {names.get(page, f"page {page}") for page in pages} - {"sqlite_schema",
                                                                    "sqlite_master"}


def test_a_loan_and_its_return_write_these_b_trees_and_no_more(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkin(ctx, "1001")
    assert _written(ctx, lambda: circulation.checkout(ctx, "P0001", "1001")) == B_TREES
    assert _written(ctx, lambda: circulation.checkin(ctx, "1001")) == B_TREES


def test_a_loan_syncs_a_few_kilobytes_to_disk(ctx):
    """What the commit's sync waits for: eight 2 KB pages and their frame headers (with
    4 KB pages, as SQLite makes by default, it would be 33 KB)."""
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkin(ctx, "1001")
    ctx.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    circulation.checkout(ctx, "P0001", "1001")
    assert (ctx.data_dir / "thuvien.db-wal").stat().st_size <= 32 + 10 * (24 + 2048)


def test_the_event_log_position_is_the_row_number(ctx):
    """No index of its own to write: SQLite's INTEGER PRIMARY KEY is the row's number."""
    columns = {c.name: c for c in ctx.db.get_columns("event")}
    assert columns["pos"].primary_key and columns["pos"].data_type == "INTEGER"
    assert "event_pos" not in {i.name for i in ctx.db.get_indexes("event")}


def _as_schema_25(con):
    """The event table as schemas before 26 made it (the id its primary key, the position an
    index of its own) and the pickup index over every loan."""
    indexes = [sql for (sql,) in con.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event' "
        "AND sql IS NOT NULL AND name <> 'event_id'")]
    columns = [row[1] for row in con.execute("PRAGMA table_info(event)") if row[1] != "pos"]
    names = ", ".join(["id", "pos", *columns[1:]])
    con.executescript(f"""
        ALTER TABLE event RENAME TO old;
        CREATE TABLE event ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "pos" INTEGER NOT NULL,
            "origin" VARCHAR(64) NOT NULL, "seq" INTEGER NOT NULL, "hlc" INTEGER NOT NULL,
            "wall" VARCHAR(32) NOT NULL, "library" VARCHAR(32) NOT NULL,
            "kind" VARCHAR(32) NOT NULL, "body" TEXT NOT NULL,
            "prev_hash" VARCHAR(64) NOT NULL, "hash" VARCHAR(64) NOT NULL,
            "relayed" INTEGER NOT NULL);
        INSERT INTO event ({names}) SELECT {names} FROM old;
        DROP TABLE old;
        CREATE UNIQUE INDEX event_pos ON event (pos);
        DROP INDEX loan_pickup;
        CREATE INDEX loan_pickup ON loan (pickup);
        UPDATE setting SET value = '25' WHERE key = 'schema_version';
    """)
    for sql in indexes:
        con.execute(sql)
    con.commit()


def test_a_schema_25_library_keeps_its_log_in_order(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkin(ctx, "1001")
    before = [(e.pos, e.id, e.hash) for e in Event.select().order_by(Event.pos)]
    fresh = {(i.name, i.sql) for i in ctx.db.get_indexes("event")}
    data_dir = ctx.data_dir
    ctx.close()
    con = sqlite3.connect(data_dir / "thuvien.db")
    _as_schema_25(con)
    con.close()
    upgraded = Context.open(data_dir)
    try:
        assert db.schema_version(upgraded.db) == db.SCHEMA_VERSION >= 26
        assert [(e.pos, e.id, e.hash) for e in Event.select().order_by(Event.pos)] == before
        assert {(i.name, i.sql) for i in upgraded.db.get_indexes("event")} == fresh
        assert next(i for i in upgraded.db.get_indexes("loan")
                    if i.name == "loan_pickup").sql.endswith('WHERE ("pickup" IS NOT NULL)')
        circulation.checkout(upgraded, "P0001", "1001")  # the log goes on from its end
        assert Event.select().order_by(Event.pos.desc()).first().pos == before[-1][0] + 1
        assert verify.verify(upgraded) == []
    finally:
        upgraded.close()


def _as_schema_26(con):
    """The loan table with a row number beside its id's index, the clock indexed and no
    highest clock kept: as schemas before 27 made them."""
    table = con.execute("SELECT sql FROM sqlite_master WHERE name = 'loan'").fetchone()[0]
    indexes = [sql for (sql,) in con.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'loan' "
        "AND sql IS NOT NULL")]
    con.executescript(f"""
        ALTER TABLE loan RENAME TO old;
        {table.replace(" WITHOUT ROWID", "")};
        INSERT INTO loan SELECT * FROM old;
        DROP TABLE old;
        CREATE INDEX event_hlc ON event (hlc);
        DELETE FROM setting WHERE key = 'log_top';
        UPDATE setting SET value = '26' WHERE key = 'schema_version';
    """)
    for sql in indexes:
        con.execute(sql)
    con.commit()


def _loan_schema(database):
    table = database.execute_sql(
        "SELECT sql FROM sqlite_master WHERE name = 'loan'").fetchone()[0]
    return table, {(i.name, i.sql) for i in database.get_indexes("loan")}


def test_a_schema_26_library_keeps_its_loans_and_its_clock(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkin(ctx, "1001")
    circulation.checkout(ctx, "P0001", "1002")
    loans = sorted(Loan.select().tuples())
    top = Event.select(pw.fn.MAX(Event.hlc)).scalar()
    fresh = _loan_schema(ctx.db)
    data_dir = ctx.data_dir
    ctx.close()
    con = sqlite3.connect(data_dir / "thuvien.db")
    _as_schema_26(con)
    assert "WITHOUT ROWID" not in con.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'loan'").fetchone()[0]
    con.close()
    upgraded = Context.open(data_dir)
    try:
        assert db.schema_version(upgraded.db) == db.SCHEMA_VERSION >= 27
        assert _loan_schema(upgraded.db) == fresh and "WITHOUT ROWID" in fresh[0]
        assert sorted(Loan.select().tuples()) == loans
        assert "event_hlc" not in {i.name for i in upgraded.db.get_indexes("event")}
        assert events.log_top() == top and upgraded.clock.last >= top
        circulation.checkin(upgraded, "1002")
        assert Event.select().order_by(Event.pos.desc()).first().hlc > top
        assert verify.verify(upgraded) == []
    finally:
        upgraded.close()
