"""Opening the database: pragmas that keep an acknowledged loan across a power
cut, versioned migrations, and tables registered by other packages."""

import logging
import re
import select
from urllib.parse import urlparse

import peewee as pw
from playhouse.pool import PooledSqliteDatabase
from playhouse.shortcuts import ReconnectMixin

from . import dialect, memo, models, search

log = logging.getLogger(__name__)

SQLITE_PRAGMAS = {
    # Set before the first table, so for new databases only (an existing one keeps its
    # own): every loan and return writes about eight b-tree pages, each whole into the
    # write-ahead log before its sync, and 2 KB pages halve what that sync waits for (a
    # cycle about 5 % faster, the file 4 % larger; 1 KB pages split the log's rows of
    # about 500 bytes at nearly every event: no faster, and a fifth larger). bench.core.
    "page_size": 2048,
    "journal_mode": "wal",
    "synchronous": "full",  # an acknowledged loan survives a power cut
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "cache_size": -1000,  # 1 MB per connection (db.SqliteDatabase: a few in a server)
    "temp_store": "memory",
}

_extra_models: list[type[pw.Model]] = []


def register_models(*model_classes):
    """Let another package (sync, provisioning) keep its tables in this database."""
    for model in model_classes:
        if model not in _extra_models:
            _extra_models.append(model)


def _add_column(model, name):
    def step(db):
        from playhouse.migrate import SchemaMigrator, migrate

        migrate(SchemaMigrator.from_database(db).add_column(
            model._meta.table_name, name, model._meta.fields[name]))
    return step


def _reindex(dropped, *model_classes):
    """Drop the indexes `dropped` and make the models' indexes that are missing. One on a
    column a later migration adds (an older library migrated through this step) is left
    to the step after it that makes the model's indexes again."""
    def step(db):
        for name in dropped:
            db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
        for model in model_classes:
            held = {c.name for c in db.get_columns(model._meta.table_name)}
            for index in model._meta.fields_to_index():
                if not held or _columns_of(index) <= held:  # (none known: made as before)
                    db.execute(model._schema._create_index(index, safe=True))
    return step


def _columns_of(node):
    """The columns an index, an expression or an index's condition names."""
    if isinstance(node, pw.Field):
        return {node.column_name}
    children = [*getattr(node, "_expressions", ()), getattr(node, "_where", None),
                getattr(node, "lhs", None), getattr(node, "rhs", None),
                getattr(node, "node", None)]
    return set().union(*(_columns_of(c) for c in children if isinstance(c, pw.Node)))


def _memo_stamps(db):
    memo.renew("policy")


def _copy_history_indexes(db):
    """Partial indexes: only these kinds of event are indexed, so a loan writes nothing
    more."""
    for kind, key in models.COPY_HISTORY.items():
        name = "event_" + kind.replace(".", "_")
        db.execute_sql(f"CREATE INDEX IF NOT EXISTS {name} ON event "
                       f"({dialect.json_text(db, 'body', key)}) WHERE kind = '{kind}'")


def _condition_apart(db):
    """A copy's condition (what staff set) gets its own column and clock, its status is
    derived (projector.DERIVED_STATUS), and edit conflicts come from each field's edits
    (FieldEdit): state is rebuilt from the log once, so it is what the rules of now make
    of it. Conflicts named anew (two loans of a copy, edits) keep their resolutions: the
    projector finds a conflict by the id it had before (projector.conflict_resolved)."""
    # In plain SQL: peewee's migrator makes a column NOT NULL on SQLite by copying the
    # table, which the loans' foreign keys to the copies forbid. Only what is missing.
    held = {c.name for c in db.get_columns("item")}
    for name, kind in (("condition", "VARCHAR(16) NOT NULL DEFAULT 'available'"),
                       ("transit_hlc", "BIGINT NOT NULL DEFAULT 0")):
        if name not in held:
            db.execute_sql(f"ALTER TABLE item ADD COLUMN {name} {kind}")
    db.create_tables([models.FieldEdit, models.Stamp], safe=True)


_condition_apart.rebuilds = True  # type: ignore[attr-defined]


def _return_clock(db):
    """Each loan keeps the clock of its return, so that a loan two desks of one library
    made without seeing each other ends the same on every node (projector, "Circulation");
    state is rebuilt from the log, which also gives back resolutions of conflicts
    that an earlier rebuild (schema 8) named anew."""
    if "return_hlc" not in {c.name for c in db.get_columns("loan")}:
        db.execute_sql("ALTER TABLE loan ADD COLUMN return_hlc BIGINT")


_return_clock.rebuilds = True  # type: ignore[attr-defined]


def _rebuild_state(db):
    """State made again from the log by the projector of now (on the schema of now, so
    only once, after the last step)."""
    from . import verify

    verify.clear_state()
    verify.replay(None)


def _replay_part(tables, kinds):
    """`tables` made again from the events of `kinds` alone, in the order they were
    applied (only those kinds write them)."""
    from . import verify

    for model in reversed(tables):
        model.delete().execute()
    verify.replay(None, kinds=kinds)


def _search_index(db):
    """The catalogue index with per-record facet lists, on PostgreSQL too."""
    search.rebuild_index(db)


def _patron_data_home(db, home):
    """A branch no longer holds other libraries' patrons' PINs, phones, e-mails or
    guardians (privacy.py); the hub and the patrons' home libraries keep them."""
    if home is None or home.get("role") == "hub":
        if home is None:
            log.warning("migration 7: no data folder named this database's library; "
                        "other libraries' patron data was not cleared")
        return
    from . import privacy

    done = privacy.purge(home["library"], home.get("origin"))
    log.info("migration 7: cleared %(cards)s cards of other libraries, dropped %(conflicts)s "
             "conflicts that kept their private data", done)


_patron_data_home.wants_home = True  # type: ignore[attr-defined]


# Steps that bring an older database level: (version, description, function).
# A new database is made whole at SCHEMA_VERSION. Append; never edit a released step.
def _logins(db):
    db.create_tables([models.LoginSession, models.LoginThrottle])
    if dialect.is_postgres(db):  # lock times were REAL there: rounded to 128 s, see models.User
        for table in ("user", "pin_attempt"):
            db.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN locked_until '
                           "TYPE double precision")


def _report_indexes(db):
    """Renewals are counted for reports from the log: a partial index on their clock, so
    only renewals are indexed and a loan writes nothing more."""
    db.execute_sql("CREATE INDEX IF NOT EXISTS event_loan_renew ON event (hlc) "
                   "WHERE kind = 'loan.renew'")


def _renewals_index(db):
    """The renewals' partial index holds each renewal's library as well: a report counts
    them per library from the index alone, without reading the events (a hub holds
    millions). `kind`, the same in every entry, is there for SQLite, which reads an index
    alone only when it holds every column the statement names."""
    db.execute_sql("DROP INDEX IF EXISTS event_loan_renew")
    db.execute_sql("CREATE INDEX event_loan_renew ON event (hlc, library, kind) "
                   "WHERE kind = 'loan.renew'")


def _counting(db):
    """Visits and copies read on site, counted for the library's reports."""
    db.create_tables([models.Visit, models.VisitTally, models.InLibraryUse], safe=True)
    _report_indexes(db)


# Columns migration 12 adds: (table, column, SQL type on SQLite, on PostgreSQL).
_KEY_COLUMNS = (
    ("patron", "card_key", "VARCHAR(32) NOT NULL DEFAULT ''", None),
    ("patron", "name_key", "VARCHAR(255) NOT NULL DEFAULT ''", None),
    ("patron", "name_sort", "TEXT NOT NULL DEFAULT ''", 'TEXT COLLATE "C" NOT NULL DEFAULT \'\''),
    ("bib", "dup_key", "VARCHAR(255) NOT NULL DEFAULT ''", None),
    ("bib", "isbn13", "VARCHAR(13)", None),
    ("bib", "merged_into", "VARCHAR(36)", None),
    ("conflict", "resolved_by", "VARCHAR(64)", None),
    ("conflict", "resolved_at", "VARCHAR(32)", None),
)


def _find_keys(db):
    """Cards matched whatever their case and spaces, names and titles found without
    their marks and sorted as Vietnamese readers sort, duplicates looked up by title,
    author and ISBN, merged records, conflicts resolved by someone: the keys
    (findkeys.py) are columns of their own, indexed, filled here for the rows held.
    In plain SQL, as in migration 8: only what is missing."""
    from . import findkeys

    _add_key_columns(db)
    _reindex([], models.Patron, models.Bib)(db)
    findkeys.refill(db)


def _add_key_columns(db):
    postgres = dialect.is_postgres(db)
    for table, name, kind, pg_kind in _KEY_COLUMNS:
        if name not in {c.name for c in db.get_columns(table)}:
            db.execute_sql(f"ALTER TABLE {table} ADD COLUMN {name} "
                           f"{pg_kind if postgres and pg_kind else kind}")


def _circulation_rules(db):
    """Loan rules say when a renewal may be asked and which overdue copies block a card;
    a return of a copy where its loan is not held is kept (HandIn)."""
    held = {c.name for c in db.get_columns("loan_rule")}
    for name in ("renew_window_days", "block_overdue_days", "block_overdue_items"):
        if name not in held:  # only what is missing
            _add_column(models.LoanRule, name)(db)
    db.create_tables([models.HandIn], safe=True)


def _school_lists(db):
    """Pupils from class lists: a patron's class and date of birth; a library's school
    year end and the age under which a pupil is a child. Only what is missing."""
    for model, names in ((models.Patron, ("school_class", "birth_date")),
                         (models.Library, ("school_year_end", "child_age",
                                           "school_year_begun"))):
        held = {c.name for c in db.get_columns(model._meta.table_name)}
        for name in names:
            if name not in held:
                _add_column(model, name)(db)


def _stocktakes(db):
    """Stocktakes and the copies seen in them."""
    db.create_tables([models.Stocktake, models.StocktakeSeen], safe=True)


def _search_words(db):
    """PostgreSQL seeks a prefix as the indexed words it stands for: their list, filled
    from the records indexed (SQLite's index needs nothing new)."""
    search.create_index(db)
    if dialect.is_postgres(db):
        search.backend(db).fill_words(db)


def _holds_travel(db):
    """A hold may be filled by another library's copy, sent to the pickup library."""
    if "source" not in {c.name for c in db.get_columns("hold")}:
        _add_column(models.Hold, "source")(db)
    if "pickup" not in {c.name for c in db.get_columns("loan")}:
        _add_column(models.Loan, "pickup")(db)


def _holds_declined(db):
    """A library asked to send a copy may say it cannot; a hold remembers who did."""
    held = {c.name for c in db.get_columns("hold")}
    for name in ("declined", "passed_over"):
        if name not in held:
            _add_column(models.Hold, name)(db)


def _holds_asked_once(db):
    """A hold asked again names the hold it replaces, so a request remembers every
    library that declined it and two desks asking again apart end with one ask: the
    state is made again from the log, where such holds are already."""
    held = {c.name for c in db.get_columns("hold")}
    for name in ("reasks", "replaced"):
        if name not in held:
            _add_column(models.Hold, name)(db)


_holds_asked_once.rebuilds = True  # type: ignore[attr-defined]


def _digital_index(db):
    from .digital import textindex

    textindex.create(db)


def _training(db):
    db.create_tables(models.TRAINING_MODELS, safe=True)


def _digital(db):
    """The digital library: documents, pages, OCR text and its index, use, the work
    queue, uploads; records marked rare or of special value."""
    from .digital import textindex

    held = {c.name for c in db.get_columns("bib")}
    kind = "BOOLEAN NOT NULL DEFAULT FALSE" if dialect.is_postgres(db) else \
        "INTEGER NOT NULL DEFAULT 0"  # plain SQL: peewee would copy the table on SQLite
    for name in ("rare", "special_value"):
        if name not in held:
            db.execute_sql(f"ALTER TABLE bib ADD COLUMN {name} {kind}")
    db.create_tables([models.DigitalDocument, models.DigitalPage, models.DigitalText,
                      models.DigitalUse, models.DigitalJob, models.UploadSession], safe=True)
    textindex.create(db)


def _remote_requests(db):
    """Patrons' remote requests (copies, loans by post); the postal days of loan rules."""
    if "postal_days" not in {c.name for c in db.get_columns("loan_rule")}:
        _add_column(models.LoanRule, "postal_days")(db)
    db.create_tables([models.RemoteRequest], safe=True)


def _request_lang(db):
    """The language a copy was asked in (a table made by migration 20 from today's model
    has it already)."""
    if "lang" not in {c.name for c in db.get_columns("remote_request")}:
        _add_column(models.RemoteRequest, "lang")(db)


def _notices(db):
    """Notices: a child's guardian's address, and the e-mail queue (local)."""
    if "guardian_email" not in {c.name for c in db.get_columns("patron")}:
        _add_column(models.Patron, "guardian_email")(db)
    db.create_tables([models.NoticeMail], safe=True)


def _fees(db):
    """Fees for copies lost or damaged on loan: the charges, a copy's price, and the
    rules' replacement charge and the balance that blocks a card. Only what is missing."""
    for model, names in ((models.Item, ("price",)),
                         (models.LoanRule, ("replacement_fee", "fee_limit"))):
        held = {c.name for c in db.get_columns(model._meta.table_name)}
        for name in names:
            if name not in held:
                _add_column(model, name)(db)
    db.create_tables([models.Fee], safe=True)


def _fee_payments(db):
    """Each payment and waiver of a fee is a row of its own (FeePayment), of the whole
    fee or a part; the fees are made again from the log, where every settlement's event
    is, so a fee settled before has its payment or waiver row, and its state, as the log
    says."""
    db.create_tables([models.FeePayment], safe=True)


def _fees_again():
    """The fees' rows and the events that make them: no other kind writes them
    (fees/projection), so they are made again alone, in seconds, where the whole state
    took many minutes on a Pi with a year of loans."""
    from .fees import projection

    return (models.Fee, models.FeePayment), tuple(projection.HANDLERS)


_fee_payments.replays = _fees_again  # type: ignore[attr-defined]


def _device_health_waiting(db):
    """The hub's record of each device's health says which update waits there for the
    update window. The table is provisioning's (registered, `provisioning/health.py`),
    which core does not import: named here. A database without it makes it whole when
    provisioning registers it."""
    if "device_health" in db.get_tables() and "update_waiting" not in {
            c.name for c in db.get_columns("device_health")}:
        db.execute_sql("ALTER TABLE device_health ADD COLUMN update_waiting VARCHAR(32)")


def _suggestions(db):
    """A patron's wish for suggestions, and the tables the hub's model is loaded into.
    Only what is missing (a database made by this version, told it is older, has both)."""
    if "suggestions" not in {c.name for c in db.get_columns("patron")}:
        # In plain SQL: peewee's migrator makes a column NOT NULL on SQLite by copying
        # the table, which the loans' and holds' foreign keys to the patrons forbid.
        kind = "BOOLEAN NOT NULL DEFAULT FALSE" if dialect.is_postgres(db) else \
            "INTEGER NOT NULL DEFAULT 0"
        db.execute_sql(f"ALTER TABLE patron ADD COLUMN suggestions {kind}")
    db.create_tables(models.SUGGEST_MODELS, safe=True)


def _rights(db):
    """Patrons' rights: keys, erasures, erased histories, the audit trail that syncs; a
    library's reading-history retention."""
    db.create_tables([models.PatronKey, models.PatronErasure, models.HistoryErasure,
                      models.AuditEntry], safe=True)
    if "history_days" not in {c.name for c in db.get_columns("library")}:
        _add_column(models.Library, "history_days")(db)


def _found_by_record_and_library(db):
    """A record's copies and holds are indexed with their library (holds with their state
    too), and a library's holds with their state (models.Item, models.Hold)."""
    for index in ("hold_bib_id", "hold_library", "item_bib_id", "item_library"):
        db.execute_sql(f"DROP INDEX IF EXISTS {index}")
    db.create_tables([models.Item, models.Hold], safe=True)


def _fewer_writes_per_loan(db):
    """Two b-trees fewer written by the desk's loan (bench.core): the loan's pickup
    library is indexed only where set (few loans), and on SQLite the event log's position
    becomes the table's row number (`pos` INTEGER PRIMARY KEY) instead of an index of its
    own. The log is copied once, in order, and its other indexes are made again as they
    were. PostgreSQL keeps its event table: both columns are indexed uniquely there
    already, whichever is called the primary key."""
    db.execute_sql("DROP INDEX IF EXISTS loan_pickup")
    db.create_tables([models.Loan], safe=True)  # its indexes: what is missing
    if dialect.is_postgres(db) or _pos_is_row_number(db):
        return
    indexes = [sql for name, sql in db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event' "
        "AND sql IS NOT NULL ORDER BY name") if name != "event_pos"]
    columns = sorted(db.get_columns("event"), key=lambda c: c.name != "pos")
    names = ", ".join(f'"{c.name}"' for c in columns)
    db.execute_sql('ALTER TABLE "event" RENAME TO "event_before_20"')
    db.execute_sql('CREATE TABLE "event" (%s)' % ", ".join(_column_sql(c) for c in columns))
    db.execute_sql(f'INSERT INTO "event" ({names}) SELECT {names} FROM "event_before_20" '
                   'ORDER BY pos')
    db.execute_sql('DROP TABLE "event_before_20"')  # and its indexes, made again below
    for sql in indexes:
        db.execute_sql(sql)
    db.create_tables([models.Event], safe=True)  # the event id's index, unique


def _fewer_writes_again(db):
    """Two b-trees fewer written by the desk's loan and one by its return, on SQLite: the
    loan table is stored in its primary key's b-tree (WITHOUT ROWID) instead of a table
    and an index of its id, and the event log's clock is no longer indexed (its highest
    value is kept as events.LOG_TOP says). PostgreSQL keeps the clock's index."""
    from .events import HIGHEST, SET_TOP  # (events needs the models migrated here)

    if dialect.is_postgres(db):
        db.execute_sql("CREATE INDEX IF NOT EXISTS event_hlc ON event (hlc)")
        return
    top = db.execute_sql(HIGHEST).fetchone()[0]  # while the index makes it one lookup
    db.execute_sql(SET_TOP, (str(top),))
    db.execute_sql("DROP INDEX IF EXISTS event_hlc")
    _keyed_by_id(db, "loan")


def _keyed_by_id(db, table):
    """Make `table` WITHOUT ROWID (SQLite), copying its rows once and making its indexes
    again as they were. Nothing refers to it by a foreign key."""
    sql = db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                         (table,)).fetchone()[0]
    if "WITHOUT ROWID" in sql.upper():
        return
    indexes = [row[0] for row in db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL ORDER BY name", (table,))]
    db.execute_sql(f'ALTER TABLE "{table}" RENAME TO "{table}_with_rowid"')
    db.execute_sql(sql + " WITHOUT ROWID")
    db.execute_sql(f'INSERT INTO "{table}" SELECT * FROM "{table}_with_rowid"')
    db.execute_sql(f'DROP TABLE "{table}_with_rowid"')  # and its indexes, made again:
    for index in indexes:
        db.execute_sql(index)


def _pos_is_row_number(db):
    return any(c.name == "pos" and c.primary_key for c in db.get_columns("event"))


def _column_sql(column):
    """A column of the event table as it was declared, `pos` as the row number."""
    if column.name == "pos":
        return '"pos" INTEGER NOT NULL PRIMARY KEY'
    default = f" DEFAULT {column.default}" if column.default is not None else ""
    return f'"{column.name}" {column.data_type}{"" if column.null else " NOT NULL"}{default}'


MIGRATIONS = [
    (2, "events relayed without their whole chain", _add_column(models.Event, "relayed")),
    (3, "indexes that seek open loans and cost a loan fewer page writes",
     _reindex(["loan_item_id", "loan_patron_id", "loan_library", "loan_due_date",
               "loan_returned_at", "event_library"], models.Loan)),
    (4, "loan rules and calendar kept in memory under a stamp", _memo_stamps),
    (5, "indexes of each copy's edits and hold traps in the event log", _copy_history_indexes),
    (6, "catalogue search index on PostgreSQL, facet lists per record", _search_index),
    (7, "other libraries' patron data stays at their home library", _patron_data_home),
    (8, "a copy's condition apart from its status, which loans and holds derive",
     _condition_apart),
    (9, "logins that can be revoked, failed logins counted per client", _logins),
    (10, "visits and copies read on site counted for reports", _counting),
    (11, "each loan's return clock; state rebuilt", _return_clock),
    (12, "cards, names and titles found by indexed keys; merged records; resolutions",
     _find_keys),
    (13, "loan rules: when a renewal may be asked, overdue copies that block a card; "
         "returns of a copy at a library that does not hold its loan", _circulation_rules),
    (14, "pupils' class and date of birth; a library's school year", _school_lists),
    (15, "stocktakes and the copies seen in them", _stocktakes),
    (16, "catalogue search: the indexed words a prefix stands for, on PostgreSQL",
     _search_words),
    (17, "holds filled by another library's copy, sent to the pickup library", _holds_travel),
    (18, "digital library: documents, pages, OCR text and its index; rare and special "
         "records", _digital),
    (19, "renewals counted per library from their index alone", _renewals_index),
    (20, "patrons' remote requests: copies and loans by post", _remote_requests),
    (21, "notices: a guardian's e-mail address, the e-mail queue", _notices),
    (22, "fees for copies lost or damaged on loan; a copy's price", _fees),
    (23, "reading suggestions and the cataloguing classifier shipped from the hub; a "
         "patron's wish for suggestions", _suggestions),
    (24, "staff training: rosters, exercises done, courses attended", _training),
    (25, "patrons' rights: sealed personal fields, erasure, history retention, audit",
     _rights),
    (26, "a loan writes two b-trees fewer: the event log's position is its row number, "
         "pickup loans alone are indexed", _fewer_writes_per_loan),
    (27, "a loan writes two b-trees fewer and a return one: loans are stored by their id "
         "alone, the log's clock is kept instead of indexed (SQLite)", _fewer_writes_again),
    (28, "a library asked for a hold's copy may decline it; the hold remembers who did",
     _holds_declined),
    (29, "remote copies: the language the patron asked in, for the e-mail when it is ready",
     _request_lang),
    (30, "a hold asked again names the one it replaces: one library asked, declines kept",
     _holds_asked_once),
    (31, "a record's copies and holds found with their library, holds by their state: a "
         "loan, a hold, the hold shelf and housekeeping no longer read every copy or hold "
         "their library has", _found_by_record_and_library),
    (32, "a library's replaced holds, open requests and the records to digitise first "
         "sought by their own indexes: housekeeping, the requests queues and the "
         "digitisation indicator no longer read all the holds, requests or records there "
         "are", _reindex(["remote_request_library"], models.Hold, models.RemoteRequest,
                         models.Bib)),
    (33, "a fee's payments and waivers, whole or in parts, each a row of its own; the "
         "fees made again from their events", _fee_payments),
    (34, "the hub knows which update waits on a device for its update window",
     _device_health_waiting),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


class DatabaseError(Exception):
    pass


class _Psycopg2(getattr(pw, "Psycopg2Adapter", object)):  # type: ignore[misc]
    """peewee's psycopg2 adapter with the driver imported when a PostgreSQL database is
    made, not with peewee (appliance/__init__.py: a branch on SQLite never loads it). What
    peewee takes from its own import of the driver is taken from ours here."""

    def __init__(self):
        import psycopg2  # type: ignore[import-untyped]
        from psycopg2 import extensions, extras

        extras.register_uuid()  # as peewee does when it imports the driver
        super().__init__()
        self.driver, self.extensions = psycopg2, extensions
        self.json_type = self.jsonb_type = extras.Json
        self.txn_idle = extensions.TRANSACTION_STATUS_IDLE
        self.txn_inerror = extensions.TRANSACTION_STATUS_INERROR
        self.txn_unknown = extensions.TRANSACTION_STATUS_UNKNOWN

    def check_driver(self):
        pass  # imported above

    def get_binary_type(self):
        return self.driver.Binary

    def connect(self, db, **params):
        if db.database.startswith("postgresql://"):
            params.setdefault("dsn", db.database)
        else:
            params.setdefault("dbname", db.database)
        conn = self.driver.connect(**params)
        if db._register_unicode:
            self.extensions.register_type(self.extensions.UNICODE, conn)
            self.extensions.register_type(self.extensions.UNICODEARRAY, conn)
        if db._encoding:
            conn.set_client_encoding(db._encoding)
        return conn


class SqliteDatabase(PooledSqliteDatabase):
    """SQLite whose connections are lent to a thread for a unit of work, not kept by it.

    A connection holds its schema, compiled statements and up to `cache_size` of pages:
    a megabyte or more each. The web server has eight threads, and one connection per
    thread kept eight of them for the server's life although a desk rarely has more
    than two requests at once (bench/README.md). A thread takes a connection when it
    first needs one, as before (autoconnect); `close()` hands it back to the idle ones,
    which the next thread takes (no new connection, no schema read again). The web app
    hands its back after each request; other threads (SIP2, the maintenance) keep
    theirs as they did. A transaction is per connection, so nothing changes for one:
    peewee's state (connection, transactions) stays per thread, and a connection is
    handed back only with no transaction open (one left open is rolled back first).
    `close_idle()` closes those not lent (Context.close)."""


class PostgresqlDatabase(ReconnectMixin, pw.PostgresqlDatabase):
    """PostgreSQL that outlives a restart of its server, without restarting the hub.

    Each thread keeps a connection (waitress has several). When a unit of work starts (a
    statement outside a transaction, or BEGIN), a connection the server has dropped is
    replaced first: psycopg2 marks one it saw fail, and a server that ends a session
    says so on the socket, which then reads ready while we are idle. A statement that
    fails for a lost connection outside a transaction is run once more on a new one
    (ReconnectMixin). A connection lost inside a transaction is not hidden: that work
    fails whole, and the next one reconnects."""

    # Sort keys compare by code point (models.SortKeyField), whatever the database's locale.
    field_types = {**pw.PostgresqlDatabase.field_types, "SORTTEXT": 'TEXT COLLATE "C"'}
    psycopg2_adapter = _Psycopg2

    reconnect_errors = (  # psycopg2's words for a connection the server dropped
        (pw.OperationalError, "server closed the connection"),
        (pw.OperationalError, "terminating connection"),
        (pw.OperationalError, "no connection to the server"),
        (pw.OperationalError, "could not receive data from server"),
        (pw.OperationalError, "could not send data to server"),
        (pw.InterfaceError, "connection already closed"),
    )

    def connection(self):  # the plain SQL of the loan path (dialect.execute) comes here
        self._drop_if_dead()
        return super().connection()

    def cursor(self, named_cursor=None):  # every peewee query, and BEGIN
        self._drop_if_dead()
        return super().cursor(named_cursor)

    def _drop_if_dead(self):
        conn = self._state.conn
        if conn is None or self._state.transactions:
            return  # inside a transaction a new connection would lose its work
        if conn.closed or _readable(conn):  # idle, so nothing of ours is there to read
            self.close()  # peewee opens a new connection on the next use


def _readable(conn):
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def _driver_error(exc):
    """The driver's own error: peewee keeps it as .orig (twice over, at times)."""
    while getattr(exc, "orig", None) is not None:
        exc = exc.orig
    return exc


def server_unreachable(exc):
    """Whether `exc` says the PostgreSQL server cannot be reached (down, restarting, or
    the link lost), rather than that a statement was wrong."""
    orig = _driver_error(exc)
    if not type(orig).__module__.startswith("psycopg2"):
        return False
    code = getattr(orig, "pgcode", None)
    if code:  # 08: connection exception; 57P01-03: shutting down, crashed, starting up
        return code.startswith("08") or code in ("57P01", "57P02", "57P03")
    # without a code the error is the client library's own: no server to answer
    return any(c.__name__ in ("OperationalError", "InterfaceError")
               for c in type(orig).__mro__)


def one_line(exc):
    """The driver's own message (peewee wraps it) on one line: libpq's runs over several."""
    orig = _driver_error(exc)
    return re.sub(r"\s+", " ", str(orig)).strip()


def _open_postgres(url):
    """A connected PostgresqlDatabase, or DatabaseError in one line."""
    from playhouse.db_url import parse

    params = parse(url.replace("postgres://", "postgresql://", 1))
    params.setdefault("connect_timeout", 10)  # an unreachable host fails, not hangs
    db = PostgresqlDatabase(**params)
    try:
        db.connect()
    except (pw.OperationalError, pw.InterfaceError) as e:
        raise _unreachable(url, e) from e
    return db


def probe(url):
    """DatabaseError unless the PostgreSQL server at `url` lets us in."""
    _open_postgres(url).close()


def _where(url):
    """host:port and database of a URL, without its password."""
    parts = urlparse(url)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}", parts.path.lstrip("/") or parts.username or "?"


def _unreachable(url, exc):
    server, database = _where(url)
    said = one_line(exc)
    return DatabaseError(f"cannot reach the PostgreSQL server at {server} "
                         f"(database {database}): {said}")


def connect(target, home=None, upgrade=True):
    """A peewee database for a SQLite path or a postgresql:// URL, migrated (unless
    `upgrade` is false: `thuvien migrate` asks first, then migrates step by step).

    `home`: {"library", "role", "origin"} of the data folder, for the steps that clear
    what this device must not hold."""
    url = str(target)
    if url.startswith(("postgres://", "postgresql://")):
        db = _open_postgres(url)
    else:
        # lent to one thread at a time, from any thread: no same-thread check; no limit
        db = SqliteDatabase(url, pragmas=SQLITE_PRAGMAS, check_same_thread=False,
                            max_connections=None)
    models.database_proxy.initialize(db)
    db.connect(reuse_if_open=True)
    if isinstance(db, pw.SqliteDatabase):
        ok = db.execute_sql("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise DatabaseError(f"quick_check failed: {ok}")
    if upgrade:
        migrate(db, home)
    return db


def schema_version(db):
    if not models.Setting.table_exists():
        return 0
    row = models.Setting.get_or_none(models.Setting.key == "schema_version")
    return row.value if row else 0


def _set_version(version):
    models.Setting.insert(key="schema_version", value=version).on_conflict(
        conflict_target=[models.Setting.key], update={models.Setting.value: version}).execute()


def _pending(current):
    """The MIGRATIONS a database at schema `current` still needs (none for a new one)."""
    return [m for m in MIGRATIONS if m[0] > current > 0]


def pending_steps(db):
    """The migrations a database at schema N > 0 still needs: [(version, description)]."""
    return [(version, text) for version, text, _ in _pending(schema_version(db))]


def migrate(db, home=None, progress=None):
    """Bring the database to SCHEMA_VERSION; `progress(version, description)` is told
    before each step (`thuvien migrate` prints it: a rebuild takes minutes on a Pi)."""
    current = schema_version(db)
    if current > SCHEMA_VERSION:
        raise DatabaseError(
            f"database schema {current} is newer than this software ({SCHEMA_VERSION})")
    if current == 0:
        with db.atomic():
            db.create_tables(models.ALL_MODELS)
            _copy_history_indexes(db)
            _renewals_index(db)
            _fewer_writes_again(db)
            search.create_index(db)
            _digital_index(db)
            memo.renew("policy")
            _set_version(SCHEMA_VERSION)
    pending = _pending(current)
    # A replay writes every column the models have now, so it waits for the last step
    # (even one that rebuilds nothing) and is in that step's transaction. A step that
    # changed how some tables alone are made (`replays`) has those made again, unless
    # the whole state is.
    rebuild = any(getattr(step, "rebuilds", False) for _, _, step in pending)
    parts = [] if rebuild else [step.replays for _, _, step in pending
                                if hasattr(step, "replays")]
    for version, description, step in pending:
        log.info("migration %s: %s", version, description)
        if progress:
            progress(version, description)
        with db.atomic():
            step(db, home) if getattr(step, "wants_home", False) else step(db)
            if version == pending[-1][0]:
                if rebuild:
                    _rebuild_state(db)
                for part in parts:
                    _replay_part(*part())
            _set_version(version)
    create_registered(db)


def create_registered(db):
    """Tables of other packages (safe to call again: it only adds what is missing)."""
    if _extra_models:
        db.create_tables(_extra_models, safe=True)
