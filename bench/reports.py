"""Reports benchmark: the town's semi-annual report and a library's monthly page.

    python -m bench.reports [--quick] [--backend sqlite|postgres] [--libraries 20]
                            [--events 1000000] [--branch-events 200000]
                            [--keep SCHEMA] [--no-page] [--profile]
    python -m bench.reports --drop SCHEMA

`--keep SCHEMA` (PostgreSQL) loads the town into that schema once and reuses it on the
next runs with the same size (loading 5,000,000 events takes a while); `--drop SCHEMA`
drops it. `--profile` times each figure's statement alone and writes its plan
(EXPLAIN ANALYZE, BUFFERS on PostgreSQL) to bench/results/.

Writes bench/results/reports.json. A town's year is loaded straight into the tables a
hub holds (the projected rows and the event log, by bulk inserts, COPY on PostgreSQL:
made through the commands it would take hours): loans with their returns (two events
each) and renewals, visits, hand counts, copies read on site, card renewals, copies and
cards. Then, timed:

- the semi-annual report (every library of the register with every figure, the town's
  totals, the indicators) over `--libraries` libraries and `--events` loan events;
  goal: under 5 s (issue 14: 20 libraries and 1,000,000 events on SQLite, 100 and
  5,000,000 on PostgreSQL);
- a library's monthly statistics page (the figures, the same month a year earlier, the
  charts) at a branch with `--branch-events` loan events, through the web app; goal:
  under 200 ms (200,000 loan events).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from appliance.core import db as dbmod  # noqa: E402
from appliance.core import dialect, users  # noqa: E402
from appliance.core.clock import LIBRARY_TZ, pack  # noqa: E402
from appliance.core.context import Context  # noqa: E402
from appliance.core.reports import period as periods  # noqa: E402
from appliance.core.reports import town  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
YEAR = 2025
GOAL_SEMIANNUAL_S = 5.0
GOAL_PAGE_MS = 200.0
PASSWORD = "mat-khau-bench-bao-cao"


class Loader:
    """Rows in bulk: COPY on PostgreSQL, multi-row INSERTs in one transaction on SQLite."""

    def __init__(self, db):
        self.db = db
        self.pg = dialect.is_postgres(db)
        self.pos = 0

    def rows(self, table, columns, rows):
        if not rows:
            return
        if self.pg:
            dialect.copy_rows(table, columns, rows)
            return
        marks = "(%s)" % ", ".join("?" * len(columns))
        per = max(1, 900 // len(columns))
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            dialect.run(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                        + ", ".join([marks] * len(chunk)),
                        tuple(v for row in chunk for v in row))


EVENT_COLUMNS = ("id", "pos", "origin", "seq", "hlc", "wall", "library", "kind", "body",
                 "prev_hash", "hash", "relayed")


def _moment(rng, start, days):
    day = start + timedelta(days=rng.randrange(days))
    return datetime(day.year, day.month, day.day, 7 + rng.randrange(11), rng.randrange(60),
                    rng.randrange(60), tzinfo=LIBRARY_TZ)


def load_town(db, libraries, n_events, seed=14, patrons=1500, copies=3000):
    """A year of a town: `libraries` libraries sharing `n_events` loan events."""
    rng = random.Random(seed)
    load = Loader(db)
    codes = [f"PY-L{n:03d}" for n in range(libraries)]
    per_library = n_events // libraries
    with db.atomic():
        load.rows("library", ("code", "name", "timezone", "closed_weekdays", "field_hlc"),
                  [(c, f"Thư viện {c}", "Asia/Ho_Chi_Minh", "[]", "{}") for c in codes])
        for code in codes:
            _library(load, rng, code, per_library, patrons, copies)
    return codes


def _library(load, rng, code, n_events, n_patrons, n_copies):
    cats = ("child", "pupil", "adult", "adult", "staff")
    patrons = [f"{code}-p{n}" for n in range(n_patrons)]
    load.rows("patron", ("id", "library", "card", "name", "category", "birth_year",
                         "created_at", "deleted", "guardian_consent", "blocked",
                         "keep_history", "field_hlc"),
              [(p, code, f"C{n:06d}", "Bạn đọc", rng.choice(cats),
                rng.choice((None, 1980, 2012, 2016)),
                _moment(rng, date(YEAR - 2, 1, 1), 1000).isoformat(), False, False, False,
                False, "{}") for n, p in enumerate(patrons)])
    bibs = [f"{code}-b{n}" for n in range(n_copies * 3 // 4)]
    load.rows("bib", ("id", "title", "authors", "subjects", "language", "created_at",
                      "updated_hlc", "deleted", "local_history", "field_hlc"),
              [(b, "Sách", "[]", "[]", rng.choice(("vie", "vie", "eng")), "2020-01-01", 0,
                False, rng.random() < 0.02, "{}") for b in bibs])
    items = [f"{code}-i{n}" for n in range(n_copies)]
    load.rows("item", ("id", "bib_id", "library", "barcode", "item_type", "condition",
                       "status", "accession_date", "transit_hlc", "field_hlc"),
              [(i, bibs[n % len(bibs)], code, f"B{n:07d}",
                rng.choice(("book", "book", "periodical", "reference")),
                "lost" if rng.random() < 0.01 else "available", "available",
                _moment(rng, date(YEAR - 3, 1, 1), 1460).date().isoformat(), 0, "{}")
               for n, i in enumerate(items)])
    loans, evs = [], []
    n_loans = n_events * 100 // 203  # each loan an out and (97 %) an in; 3 % renewals
    for n in range(n_loans):
        out = _moment(rng, date(YEAR, 1, 1), 365)
        back = out + timedelta(days=rng.randrange(1, 25), hours=rng.randrange(5))
        returned = back.isoformat() if rng.random() < 0.97 else None
        lid = f"{code}-l{n}"
        loans.append((lid, rng.choice(items), rng.choice(patrons), code, out.isoformat(),
                      pack(int(out.timestamp() * 1000), 0),
                      (out + timedelta(days=14)).date().isoformat(), returned, 0, 0))
        evs.append((out, "loan.out", lid))
        if returned:
            evs.append((back, "loan.in", lid))
    while len(evs) < n_events:
        evs.append((_moment(rng, date(YEAR, 1, 1), 365), "loan.renew",
                    f"{code}-l{rng.randrange(n_loans)}"))
    load.rows("loan", ("id", "item_id", "patron_id", "library", "out_at", "out_hlc",
                       "due_date", "returned_at", "renewals", "fee"), loans)
    origin = f"dev-{code}"
    rows = []
    for seq, (moment, kind, lid) in enumerate(sorted(evs), start=1):
        load.pos += 1
        rows.append((f"{code}-e{seq}", load.pos, origin, seq,
                     pack(int(moment.timestamp() * 1000), seq & 0xFFFF),
                     moment.isoformat(), code, kind, json.dumps({"loan_id": lid}), "0" * 64,
                     "%064x" % rng.getrandbits(256), False))
        if len(rows) >= 50000:
            load.rows("event", EVENT_COLUMNS, rows)
            rows = []
    load.rows("event", EVENT_COLUMNS, rows)
    _counted(load, rng, code, patrons, items)


def _counted(load, rng, code, patrons, items):
    visits, tallies, uses, edits = [], [], [], []
    day = date(YEAR, 1, 1)
    while day.year == YEAR:
        d = day.isoformat()
        for p in set(rng.sample(patrons, 15)):
            visits.append((f"{code}|{d}|{p}", code, d, p))
        tallies.append((f"{code}|{d}", code, d, rng.randrange(40)))
        for n in range(8):
            uses.append((f"{code}-u{d}-{n}", code, d, rng.choice(items)))
        day += timedelta(days=1)
    for n, p in enumerate(rng.sample(patrons, len(patrons) // 20)):
        at = _moment(rng, date(YEAR, 1, 1), 365).isoformat()
        edits.append((f"{code}-f{n}", "Patron", p, "expiry", 1, 0, '"2027-12-31"',
                      f"{code}-fe{n}", code, at))
    load.rows("visit", ("id", "library", "day", "patron"), visits)
    load.rows("visit_tally", ("id", "library", "day", "count"), tallies)
    load.rows("in_library_use", ("id", "library", "day", "item"), uses)
    load.rows("field_edit", ("id", "model", "entity", "field", "hlc", "base", "value",
                             "event", "library", "at"), edits)


def _analyse(db):
    """Statistics for the planner; on PostgreSQL the visibility map too, as autovacuum
    keeps it on a hub, so that a statement may read an index alone."""
    db.execute_sql("VACUUM ANALYZE" if dialect.is_postgres(db) else "ANALYZE")


def time_semiannual(db, codes, runs=3):
    for code in codes:
        town.save_entry(code, f"Thư viện {code}", "public", None, code.endswith("0"))
    p = periods.half(YEAR, 1)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        report = town.semiannual(p, {}, date(YEAR, 12, 31))
        times.append(time.perf_counter() - started)
    assert len(report["libraries"]) == len(codes)
    return {"runs_s": [round(t, 3) for t in times], "first_s": round(times[0], 3),
            "median_s": round(statistics.median(times), 3),
            "loans_in_report": report["town"]["loans"]}


def time_page(ctx, runs=20):
    """GET /reports/ for a month, through the web app (figures, a year earlier, charts)."""
    from appliance.web import create_app
    from tests.conftest import staff_login

    users.create(ctx, "bench", PASSWORD, "branch_admin")
    app = create_app(ctx, testing=True)
    client = app.test_client()
    staff_login(client, "bench", PASSWORD, landing="/reports/")
    args = {"kind": "month", "year": YEAR, "number": 5}
    page = client.get("/reports/", query_string=args)
    assert page.status_code == 200 and "Lượt mượn" in page.get_data(as_text=True)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        assert client.get("/reports/", query_string=args).status_code == 200
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1),
            "max_ms": round(times[-1], 1)}


@contextlib.contextmanager
def database(backend, folder, keep=None):
    if backend == "sqlite":
        db = dbmod.connect(str(folder / "thuvien.db"))
        yield db
        db.close()
        return
    if keep:
        db = dbmod.connect(_schema(keep, create=True))
        yield db
        db.close()
        return
    from tests.sync.syncsupport import hub_database

    with hub_database("postgres") as url:
        db = dbmod.connect(url)
        yield db
        db.close()


def _pg_url():
    import os

    url = os.environ.get("THUVIEN_TEST_PG")
    if not url:
        raise SystemExit("PostgreSQL is not running (use scripts/test-services.sh)")
    return url


def _schema(name, create=False, drop=False):
    """A URL to the kept schema `name` (made when missing), or drop it."""
    import psycopg2

    url = _pg_url()
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        if create:
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {name}")
        if drop:
            cur.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    conn.close()
    return f"{url}?options=-csearch_path%3D{name}"


def _loaded(db, libraries, events):
    """The codes of a town already loaded in a kept schema with this size, or None."""
    db.execute_sql("CREATE TABLE IF NOT EXISTS bench_town (libraries INTEGER, events BIGINT)")
    row = db.execute_sql("SELECT libraries, events FROM bench_town").fetchone()
    if row is None:
        return None
    if tuple(row) != (libraries, events):
        raise SystemExit(f"the kept schema holds {row[0]} libraries and {row[1]} events: "
                         "drop it (--drop) or keep another")
    return [f"PY-L{n:03d}" for n in range(libraries)]


def load_or_reuse(db, args, result):
    codes = _loaded(db, args.libraries, args.events) if args.keep else None
    if codes is not None:
        result["load_s"] = "kept"
        return codes
    started = time.perf_counter()
    codes = load_town(db, args.libraries, args.events)
    _analyse(db)
    result["load_s"] = round(time.perf_counter() - started, 1)
    if args.keep:
        dialect.run("INSERT INTO bench_town VALUES (?, ?)", (args.libraries, args.events))
    return codes


def main(argv):
    parser = argparse.ArgumentParser(prog="bench.reports")
    parser.add_argument("--quick", action="store_true", help="a small town, to try it out")
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--libraries", type=int, default=20)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--branch-events", type=int, default=200_000)
    parser.add_argument("--keep", metavar="SCHEMA",
                        help="PostgreSQL: load the town into SCHEMA once and reuse it")
    parser.add_argument("--drop", metavar="SCHEMA", help="drop a kept schema and stop")
    parser.add_argument("--no-page", action="store_true", help="skip the monthly page")
    parser.add_argument("--profile", action="store_true",
                        help="time each figure's statement and write its plan")
    args = parser.parse_args(argv)
    if args.drop:
        _schema(args.drop, drop=True)
        return None
    if args.keep and args.backend != "postgres":
        raise SystemExit("--keep needs --backend postgres")
    if args.quick:
        args.libraries, args.events, args.branch_events = 4, 40_000, 20_000
    result = {"bench": "reports", "backend": args.backend, "libraries": args.libraries,
              "events": args.events, "branch_events": args.branch_events}
    with tempfile.TemporaryDirectory(prefix="thuvien-bench-") as tmp:
        with database(args.backend, _mkdir(Path(tmp) / "town"), args.keep) as db:
            codes = load_or_reuse(db, args, result)
            town.ensure_tables(db)
            if args.profile:
                from bench import reports_profile

                result["profile"] = reports_profile.profile(db, periods.half(YEAR, 1),
                                                            codes, RESULTS)
            result["semiannual"] = time_semiannual(db, codes)
        if not args.no_page:
            result["monthly_page"] = branch_page(Path(tmp) / "branch", args.branch_events)
    result["goals"] = {
        "semiannual_under_5s": result["semiannual"]["median_s"] < GOAL_SEMIANNUAL_S}
    if "monthly_page" in result:
        result["goals"]["monthly_page_under_200ms"] = (result["monthly_page"]["p95_ms"]
                                                       < GOAL_PAGE_MS)
    RESULTS.mkdir(exist_ok=True)
    name = "reports.json" if args.backend == "sqlite" else "reports-postgres.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return result


def branch_page(folder, n_events):
    """The monthly page timed at a branch of its own (SQLite) with `n_events`."""
    with database("sqlite", _mkdir(folder)) as db:
        codes = load_town(db, 1, n_events, seed=15)
        _analyse(db)
        ctx = Context.for_db(db, codes[0], role="branch",
                             settings={"library_name": "Thư viện bench"})
        ctx.clock.observe(pack(int(datetime(YEAR, 12, 31, tzinfo=LIBRARY_TZ).timestamp()
                                   * 1000), 0))
        return time_page(ctx)


def _mkdir(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    main(sys.argv[1:])
