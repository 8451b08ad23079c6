"""Where the semi-annual report's time goes: each statement the figures run, timed, and
its plan (EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite).

The statements are caught as the report runs them (through `dialect.run`), so the
profile follows whatever the figures become. On a shared machine the time a statement
takes says more about its neighbours than about it; on PostgreSQL each is therefore run
again alone, without parallel workers, and the CPU time its server process spent is
read as well (when the server runs on this machine)."""

from __future__ import annotations

import contextlib
import os
import time
from datetime import date

from appliance.core import dialect
from appliance.core.reports import figures, town


@contextlib.contextmanager
def _caught(into):
    """Record (text, params, seconds) of each statement run through `dialect.run`."""
    real = dialect.run

    def timed(text, params=()):
        started = time.perf_counter()
        cursor = real(text, params)
        rows = cursor.fetchall()
        into.append((text, params, time.perf_counter() - started))
        return _Rows(rows)

    dialect.run = timed
    try:
        yield
    finally:
        dialect.run = real


class _Rows:
    def __init__(self, rows):
        self.rows = rows

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0] if self.rows else None


def _label(text):
    for name in dir(figures):
        value = getattr(figures, name)
        if isinstance(value, str) and name.isupper() and _same(value, text):
            return name
    return text.split(" FROM ", 1)[-1][:40]


def _same(template, text):
    """Whether `text` is `template` with its {key}, {only} and {town} filled in."""
    import re

    pattern = re.escape(template)
    for name in ("key", "only", "town", "whole_table"):
        pattern = pattern.replace(r"\{%s\}" % name, ".*?")
    return re.fullmatch(pattern, text, re.S) is not None


def _cpu(pid):
    """CPU seconds a local process has spent, or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _alone(db, text, params):
    """(wall, server CPU) seconds of one statement run alone, without parallel workers."""
    with db.atomic():
        figures._settings(db)
        db.execute_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        pid = db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
        cpu, started = _cpu(pid), time.perf_counter()
        dialect.run(text, params).fetchall()
        wall, after = time.perf_counter() - started, _cpu(pid)
    return wall, None if cpu is None or after is None else after - cpu


def _plan(db, text, params):
    if dialect.is_postgres(db):
        with db.atomic():
            figures._settings(db)
            rows = dialect.run("EXPLAIN (ANALYZE, BUFFERS) " + text, params).fetchall()
        return "\n".join(r[0] for r in rows)
    rows = dialect.run("EXPLAIN QUERY PLAN " + text, params).fetchall()
    return "\n".join(str(r[-1]) for r in rows)


def profile(db, period, codes, results):
    """{label: seconds} for each statement of one semi-annual report; the plans go to
    results/reports-profile-<backend>.txt."""
    caught: list = []
    with _caught(caught):
        started = time.perf_counter()
        town.semiannual(period, {}, date(period.end.year, 12, 31))
        whole = time.perf_counter() - started
    out, plans = {"whole_s": round(whole, 3)}, []
    pg = dialect.is_postgres(db)
    for n, (text, params, seconds) in enumerate(caught):
        label = f"{n:02d} {_label(text)}"
        out[label] = {"in_report_s": round(seconds, 3)}
        if pg:
            wall, cpu = _alone(db, text, params)
            out[label].update(alone_s=round(wall, 3), cpu_s=cpu and round(cpu, 3))
        if seconds >= 0.01:
            plans.append(f"== {label}: {out[label]}\n{text}\n{params}\n\n"
                         + _plan(db, text, params) + "\n")
    backend = "postgres" if dialect.is_postgres(db) else "sqlite"
    results.mkdir(exist_ok=True)
    (results / f"reports-profile-{backend}.txt").write_text("\n".join(plans))
    for label, seconds in out.items():
        print(f"{label:24} {seconds}")
    return out
