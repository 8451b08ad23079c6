"""Plain SQL written once for SQLite and PostgreSQL: `?` becomes the database's marker,
and the statements of the loan path run straight on the connection."""

import csv
import io

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


def connection():
    """This thread's connection to the database the plain SQL runs on."""
    return database_proxy.obj.connection()


def execute(text, params=()):
    """Run SQL already in the database's dialect on this thread's connection, without the
    query builder's wrapping (a loan runs a dozen statements). Driver errors come as the
    driver raises them."""
    cursor = connection().cursor()
    cursor.execute(text, params)
    return cursor


def run(text, params=()):
    """Run plain SQL written with `?` markers."""
    return execute(sql(text), params)


# Statements sent in one round trip (PostgreSQL); bounded so that no query text grows huge.
MANY_PER_TRIP = 200


def run_many(statements):
    """Run writes whose results nobody reads, in order: on PostgreSQL many to a round trip
    (psycopg2 fills the parameters in on the client, so the statements travel as one
    text), on SQLite (in process, no trip to save) one by one. Each is (SQL already in
    the database's dialect, params)."""
    if not is_postgres(database_proxy):
        for text, params in statements:
            execute(text, params)
        return
    for start in range(0, len(statements), MANY_PER_TRIP):
        chunk = statements[start:start + MANY_PER_TRIP]
        execute(";\n".join(text for text, _ in chunk),
                tuple(p for _, params in chunk for p in params))


def copy_rows(table, columns, rows):
    """Append rows to a PostgreSQL table with COPY, the server's bulk path (no statement
    to parse and plan per row). Values are text, integers or booleans, never None."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)  # csv quotes what needs it; COPY's CSV reads it back alike
    buffer.seek(0)
    cursor = database_proxy.obj.connection().cursor()
    cursor.copy_expert("COPY %s (%s) FROM STDIN WITH (FORMAT csv)" % (table, ", ".join(columns)),
                       buffer)


def is_postgres(db):
    return isinstance(getattr(db, "obj", db), pw.PostgresqlDatabase)


def json_text(db, column, key):
    """SQL for the text of `key` in a JSON text column, as both an index and a query
    write it (the two must match for the index to serve)."""
    if is_postgres(db):
        return f"(({column})::jsonb ->> '{key}')"
    return f"json_extract({column}, '$.{key}')"
