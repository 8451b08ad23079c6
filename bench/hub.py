"""Town hub benchmark on PostgreSQL: a province-size union catalogue, then search.

    .venv/bin/python -m bench.hub [--records 1000000] [--copies 3] [--libraries 100]
                                  [--database postgresql://…] [--rounds 3]

The catalogue (default 1,000,000 records and 3,000,000 copies in 100 libraries) is
loaded with COPY straight into `bib`, `item` and the search index, the rows the
projector would make (the index rows from the same `search_pg.doc_values` it uses;
a sample is indexed again through `search.on_bib_changed` and compared), with the
secondary indexes dropped during the load and built after it. Then 24 fixed queries
run through the JSON API and the OPAC search page on a real waitress server on
loopback, beside the same queries as bare ranked `@@` queries on the same index (the
floor: top 20 of the matches the search reads; and top 20 of every match), interleaved
in the same run. Reports load time and database size.

The database is a fresh schema in --database (default $THUVIEN_TEST_PG), dropped at
the end. Result: bench/results/hub.json.
"""

import argparse
import io
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from appliance.core import search, search_pg
from bench.gen_records import catalogue_rows
from bench.search import BIB_COLS, ITEM_COLS, QUERIES, figures, latencies

# Ingest from 20 branches at once (goal 5,000 events/s) is bench/hub_ingest.py.
GOALS = {"api_p95_ms": 50, "api_over_bare_p95": 2.0, "opac_p95_ms": 100}
CHUNK = 10_000  # records per COPY round
TABLES = ("bib", "item", "search_doc")


# --- loading ---------------------------------------------------------------------

def _cell(value):
    """A value in COPY's text format."""
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, list):
        value = "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                               for v in value) + "}"
    return (str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def _copy(cursor, table, columns, rows):
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join(_cell(v) for v in row) + "\n")
    buf.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)


def _secondary_indexes(cursor):
    """(name, definition) of the indexes on the loaded tables that no constraint owns."""
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = "
        "current_schema() AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM "
        "pg_constraint c WHERE c.conname = i.indexname)", (list(TABLES),))
    return cursor.fetchall()


def load(db, records, copies, libraries):
    """COPY the catalogue in; returns seconds per phase."""
    conn = db.connection()
    times = {}
    with conn.cursor() as cur:
        indexes = _secondary_indexes(cur)
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        conn.commit()
        t = time.perf_counter()
        batch = []
        for bib, items in catalogue_rows(records, copies, libraries):
            batch.append((bib, items))
            if len(batch) == CHUNK:
                _load_chunk(cur, batch)
                conn.commit()
                batch = []
        if batch:
            _load_chunk(cur, batch)
        conn.commit()
        times["copy_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        cur.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            cur.execute(definition)
        conn.commit()
        times["indexes_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        search_pg.fill_words(db)  # what the projector adds per record, for the whole load
        conn.commit()
        times["words_s"] = round(time.perf_counter() - t, 1)
        t = time.perf_counter()
        # What autovacuum does to a freshly loaded table on a live hub, done now: the
        # statistics the planner needs and the visibility map.
        conn.autocommit = True
        try:
            for table in TABLES:
                cur.execute(f"VACUUM ANALYZE {table}")
        finally:
            conn.autocommit = False
        times["vacuum_analyze_s"] = round(time.perf_counter() - t, 1)
    return times


def _load_chunk(cur, batch):
    _copy(cur, "bib", BIB_COLS, ([b[c] for c in BIB_COLS] for b, _ in batch))
    _copy(cur, "item", ITEM_COLS, ([i[c] for c in ITEM_COLS] for _, items in batch
                                   for i in items))
    _copy(cur, "search_doc", search_pg.DOC_COLUMNS,
          (search_pg.doc_values(b, items) for b, items in batch))


def same_as_projector(db, sample=200):
    """Index a sample of loaded records again through the projector's own call and
    compare the rows: the bulk load must hold what the projector would."""
    cols = ", ".join(search_pg.DOC_COLUMNS)
    ids = [r[0] for r in db.execute_sql(
        "SELECT bib_id FROM search_doc TABLESAMPLE SYSTEM (1) LIMIT %s", (sample,)).fetchall()]
    query = f"SELECT {cols} FROM search_doc WHERE bib_id = ANY(%s) ORDER BY bib_id"
    before = db.execute_sql(query, (ids,)).fetchall()
    with db.atomic() as txn:
        for bib_id in ids:
            search.on_bib_changed(db, bib_id)
        after = db.execute_sql(query, (ids,)).fetchall()
        txn.rollback()
    differ = [b[0] for b, a in zip(before, after, strict=True) if b != a]
    if not ids:
        raise RuntimeError("no loaded record to check against the projector")
    if differ:
        raise RuntimeError(f"bulk rows differ from the projector's for {differ[:5]}")
    return len(ids)


def sizes(db):
    """Bytes on disk per table (with its indexes and TOAST) and in all."""
    out = {t: db.execute_sql("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0]
           for t in TABLES}
    out["schema"] = db.execute_sql(
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON "
        "n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN "
        "('r', 'm')").fetchone()[0]
    return {k: round(int(v) / 2**20, 1) for k, v in out.items()}


# --- measuring -------------------------------------------------------------------

def floors(db):
    """Bare queries on the same index, top 20 by ts_rank, nothing else: `bare` among the
    RANK_CAP + 1 matches the search reads (its newest matches for a query the search
    finds common, else the first the GIN index gives; the floor of the goal), and
    `bare_all` among every match (what ranking them all costs)."""
    rank = f"ts_rank({search_pg.RANK_WEIGHTS}, folded, %s::tsquery) DESC"
    newest = {}
    for q in QUERIES:  # which read the search makes, decided once, outside the timing
        sql, args = search_pg._hits_sql(search.parse(q), {})
        newest[q] = search_pg._expected(db, sql, args)[1]

    def capped(q):
        query = search_pg.tsquery(search.parse(q))
        read = "ORDER BY id DESC " if newest[q] else ""
        sql = ("SELECT bib_id FROM (SELECT bib_id, folded FROM search_doc WHERE folded @@ "
               f"%s::tsquery {read}LIMIT %s) c ORDER BY {rank} LIMIT 20")
        if not newest[q]:
            return db.execute_sql(sql, (query, search_pg.RANK_CAP + 1, query)).fetchall()
        with db.atomic():
            db.execute_sql("SET LOCAL enable_bitmapscan = off")
            db.execute_sql("SET LOCAL enable_seqscan = off")
            return db.execute_sql(sql, (query, search_pg.RANK_CAP + 1, query)).fetchall()

    def every(q):
        query = search_pg.tsquery(search.parse(q))
        return db.execute_sql(
            f"SELECT bib_id FROM search_doc WHERE folded @@ %s::tsquery ORDER BY {rank} "
            "LIMIT 20", (query, query)).fetchall()
    return {"bare": capped, "bare_all": every}


# --- the run ---------------------------------------------------------------------

def fresh_schema(base):
    import psycopg2

    schema = "bench_hub_" + secrets.token_hex(4)
    with psycopg2.connect(base) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    conn.close()
    return schema, schema_url(base, schema)


def schema_url(base, schema):
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def drop_schema(base, schema):
    import psycopg2

    with psycopg2.connect(base) as conn, conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
    conn.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--copies", type=int, default=3, help="copies per record")
    ap.add_argument("--libraries", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--database", default=os.environ.get("THUVIEN_TEST_PG"),
                    help="a PostgreSQL URL; a fresh schema in it is used and dropped")
    ap.add_argument("--keep", action="store_true", help="keep the schema (for profiling)")
    ap.add_argument("--schema", help="measure a schema kept by an earlier --keep run again "
                    "instead of loading one (kept too)")
    args = ap.parse_args(argv)
    if not args.database:
        raise RuntimeError("bench.hub needs PostgreSQL: --database postgresql://… or "
                           "THUVIEN_TEST_PG (scripts/test-services.sh sets it)")
    from appliance.core import datadir

    if args.schema:
        schema, url, args.keep = args.schema, schema_url(args.database, args.schema), True
    else:
        schema, url = fresh_schema(args.database)
    result = {"records": args.records, "copies": args.records * args.copies,
              "libraries": args.libraries, "goals": GOALS}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = datadir.init(Path(tmp) / "hub", "PY-HUB", "Thư viện tỉnh", "hub",
                               database=url)
            if not args.schema:
                t = time.perf_counter()
                result["load"] = load(ctx.db, args.records, args.copies, args.libraries)
                result["load"]["total_s"] = round(time.perf_counter() - t, 1)
                print(f"load: {result['load']}", file=sys.stderr, flush=True)
                result["load"]["checked_against_projector"] = same_as_projector(ctx.db)
            result["size_mb"] = sizes(ctx.db)
            print(f"size: {result['size_mb']}", file=sys.stderr, flush=True)
            times = latencies(ctx, args.rounds, floors(ctx.db))
            result.update(figures(times))
            result["hits"] = {q: search.search(q, per_page=1)["total"] for q in QUERIES}
            result["queries"], result["rounds"] = len(QUERIES), args.rounds
            ctx.close()
    finally:
        if args.keep:
            print(f"kept: {url}", file=sys.stderr)
        else:
            drop_schema(args.database, schema)
    result["met"] = {
        "api_p95": result["api_p95_ms"] < GOALS["api_p95_ms"],
        "api_over_bare_p95": result["api_over_bare_p95"] <= GOALS["api_over_bare_p95"],
        "opac_p95": result["opac_p95_ms"] < GOALS["opac_p95_ms"]}
    out = Path(__file__).resolve().parent / "results" / "hub.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
