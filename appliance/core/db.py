"""Opening the database: pragmas that keep an acknowledged loan across a power
cut, versioned migrations, and tables registered by other packages."""

import logging

import peewee as pw

from . import dialect, memo, models

log = logging.getLogger(__name__)

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",  # an acknowledged loan survives a power cut
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "cache_size": -1000,  # 1 MB per connection (one per server thread): bounded on a Pi
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
    def step(db):
        for name in dropped:
            db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
        for model in model_classes:
            model._schema.create_indexes(safe=True)
    return step


def _memo_stamps(db):
    memo.renew("policy")


def _copy_history_indexes(db):
    """Partial indexes: only these kinds of event are indexed, so a loan writes nothing
    more."""
    for kind, key in models.COPY_HISTORY.items():
        name = "event_" + kind.replace(".", "_")
        db.execute_sql(f"CREATE INDEX IF NOT EXISTS {name} ON event "
                       f"({dialect.json_text(db, 'body', key)}) WHERE kind = '{kind}'")


# Steps that bring an older database level: (version, description, function).
# A new database is made whole at SCHEMA_VERSION. Append; never edit a released step.
MIGRATIONS = [
    (2, "events relayed without their whole chain", _add_column(models.Event, "relayed")),
    (3, "indexes that seek open loans and cost a loan fewer page writes",
     _reindex(["loan_item_id", "loan_patron_id", "loan_library", "loan_due_date",
               "loan_returned_at", "event_library"], models.Loan)),
    (4, "loan rules and calendar kept in memory under a stamp", _memo_stamps),
    (5, "indexes of each copy's edits and hold traps in the event log", _copy_history_indexes),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


class DatabaseError(Exception):
    pass


def connect(target):
    """A peewee database for a SQLite path or a postgresql:// URL, migrated."""
    if str(target).startswith(("postgres://", "postgresql://")):
        from playhouse.db_url import connect as url_connect

        db = url_connect(str(target).replace("postgres://", "postgresql://", 1))
    else:
        db = pw.SqliteDatabase(str(target), pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    models.database_proxy.initialize(db)
    db.connect(reuse_if_open=True)
    if isinstance(db, pw.SqliteDatabase):
        ok = db.execute_sql("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise DatabaseError(f"quick_check failed: {ok}")
    migrate(db)
    return db


def schema_version(db):
    if not models.Setting.table_exists():
        return 0
    row = models.Setting.get_or_none(models.Setting.key == "schema_version")
    return row.value if row else 0


def _set_version(version):
    models.Setting.insert(key="schema_version", value=version).on_conflict(
        conflict_target=[models.Setting.key], update={models.Setting.value: version}).execute()


def migrate(db):
    current = schema_version(db)
    if current > SCHEMA_VERSION:
        raise DatabaseError(
            f"database schema {current} is newer than this software ({SCHEMA_VERSION})")
    if current == 0:
        with db.atomic():
            db.create_tables(models.ALL_MODELS)
            _copy_history_indexes(db)
            memo.renew("policy")
            _set_version(SCHEMA_VERSION)
    for version, description, step in MIGRATIONS:
        if version > current > 0:
            log.info("migration %s: %s", version, description)
            with db.atomic():
                step(db)
                _set_version(version)
    create_registered(db)


def create_registered(db):
    """Tables of other packages (safe to call again: it only adds what is missing)."""
    if _extra_models:
        db.create_tables(_extra_models, safe=True)
