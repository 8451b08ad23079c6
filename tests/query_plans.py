"""What the planner makes of the statements some work runs (SQLite, no statistics, as a
library's database is): each statement is explained, and a step that reads a table that
grows with a library's years whole, or seeks any table by the library alone, is reported."""

import re

# The tables that grow with a library's years.
LARGE = ("hold", "loan", "item", "patron", "event", "bib", "fee", "fee_payment",
         "remote_request")
# Read whole: the table, or an index of it walked end to end (a partial index, of the
# few rows its condition names, is not: `_partial`).
FULL_READ = re.compile(r"\bSCAN (?:%s)\b(?: USING (?:COVERING )?INDEX (\w+))?" % "|".join(LARGE))
# (A unique key on the library alone, a library's one row, is no seek of many.)
BY_LIBRARY_ALONE = re.compile(r"INDEX (?!sqlite_autoindex_)\w+ \(library=\?\)")


def statements_of(ctx, work):
    seen = []
    connection = ctx.db.connection()
    connection.set_trace_callback(seen.append)
    try:
        work()
    finally:
        connection.set_trace_callback(None)
    return [sql for sql in seen if re.match(r"\s*(SELECT|UPDATE|DELETE|WITH)", sql, re.I)]


# A table and the name a statement gives it (peewee's "t1", a report's "l"): the plan
# names a table by it.
NAMED = re.compile(r'\b(?:FROM|JOIN)\s+"?(\w+)"?\s+(?:AS\s+)?"?(\w+)"?', re.I)


def _by_table(step, names):
    """The step with the table's own name for the one the statement gave it."""
    return re.sub(r"\b(SCAN|SEARCH) (\w+)",
                  lambda m: f"{m[1]} {names.get(m[2], m[2])}", step)


def bad_steps(ctx, statements):
    bad = []
    for sql in statements:
        names = {alias: table for table, alias in NAMED.findall(sql)}
        steps = [_by_table(row[-1], names)
                 for row in ctx.db.execute_sql("EXPLAIN QUERY PLAN " + sql)]
        bad += [(step, sql[:300]) for step in steps
                if _read_whole(ctx, step) or BY_LIBRARY_ALONE.search(step)]
    return bad


def _read_whole(ctx, step):
    found = FULL_READ.search(step)
    return found is not None and not (found[1] and _partial(ctx, found[1]))


def _partial(ctx, index):
    sql = ctx.db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'index' "
                             "AND name = ?", (index,)).fetchone()
    return sql is not None and sql[0] is not None and " WHERE " in sql[0].upper()
