"""Plain SQL written once for SQLite and PostgreSQL: `?` becomes the database's marker,
and the statements of the loan path run straight on the connection."""

import peewee as pw

from .models import database_proxy

_texts: dict[tuple[str, str], str] = {}


def sql(text):
    """`text` with the database's parameter marker (`?` or `%s`), worked out once."""
    param = database_proxy.param
    key = (text, param)
    if key not in _texts:
        _texts[key] = text.replace("?", param)
    return _texts[key]


def execute(text, params=()):
    """Run SQL already in the database's dialect on this thread's connection, without the
    query builder's wrapping (a loan runs a dozen statements). Driver errors come as the
    driver raises them."""
    cursor = database_proxy.obj.connection().cursor()
    cursor.execute(text, params)
    return cursor


def run(text, params=()):
    """Run plain SQL written with `?` markers."""
    return execute(sql(text), params)


def is_postgres(db):
    return isinstance(getattr(db, "obj", db), pw.PostgresqlDatabase)


def json_text(db, column, key):
    """SQL for the text of `key` in a JSON text column, as both an index and a query
    write it (the two must match for the index to serve)."""
    if is_postgres(db):
        return f"(({column})::jsonb ->> '{key}')"
    return f"json_extract({column}, '$.{key}')"
