"""Catalogue benchmark on SQLite: import rate through core commands, and search
latency through the JSON API and the OPAC search page (HTML with facets and
availability) beside the same queries on the bare FTS5 index.

    .venv/bin/python -m bench.search [--records 200000] [--copies 2] [--import-records 5000]

Records beyond the imported ones are added in bulk (rows, copies and index rows, as
the projector makes them) so the query part runs against a catalogue of --records
with --copies copies each. Result: bench/results/search.json.
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from appliance.core import importer, search
from bench.gen_records import catalogue_rows, write_csv

QUERIES = ["lich su", "van hoa", "nguyen van", "phu yen", "dong hoa", "hoà bình", "hòa bình",
           "thieu nhi", "title:que huong", "author:tran thi", "subject:giao duc",
           '"dong song"', "khoa*", "bien dao", "cay lua", "tuoi tho", "ky uc", "mua xuan",
           "9786040001", "sức khoẻ", "toan hoc", "le hai", "phan thanh", "giao trinh"]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def import_rate(ctx, n, tmp):
    path = tmp / "import.csv"
    write_csv(n, path, seed=1)
    start = time.perf_counter()
    with open(path, "rb") as fh:
        report = importer.import_stream(ctx, "csv", fh)
    took = time.perf_counter() - start
    assert report.created == n and not report.skipped, report.as_dict()["skipped"][:3]
    return n / took


BIB_COLS = ("id", "title", "authors", "publisher", "year", "isbn", "language", "ddc",
            "subjects", "series", "notes", "marc", "control_number", "local_history",
            "created_at", "updated_hlc", "deleted", "field_hlc")
ITEM_COLS = ("id", "bib_id", "library", "barcode", "item_type", "location", "call_number",
             "status", "accession_date", "transit_to", "field_hlc", "condition", "transit_hlc")


def _insert(table, cols):
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"


def bulk_fill(ctx, n, copies=2, n_libraries=10):
    """Records and their copies straight into `bib`, `item` and the index, the rows the
    projector would make (the index rows from the same `doc_values` it uses): the query
    benchmark needs a big catalogue, not a long import."""
    from appliance.core import search_sqlite

    db = ctx.db
    rowid = db.execute_sql("SELECT coalesce(max(rowid), 0) FROM search_doc").fetchone()[0]
    batch = []

    doc_sql = _insert("search_doc", ("rowid",) + search_sqlite.DOC_COLUMNS)

    def flush():
        conn = db.connection()
        conn.executemany(_insert("bib", BIB_COLS), [[b[c] for c in BIB_COLS] for b, _ in batch])
        conn.executemany(_insert("item", ITEM_COLS),
                         [[i[c] for c in ITEM_COLS] for _, items in batch for i in items])
        docs = [(r, search_sqlite.doc_values(b, items)) for r, (b, items) in
                enumerate(batch, start=rowid - len(batch) + 1)]
        conn.executemany(doc_sql, [(r, *doc) for r, (doc, _) in docs])
        conn.executemany(search_sqlite.INSERT_FTS_SQL, [(r, *fts) for r, (_, fts) in docs])
        batch.clear()

    with db.atomic():
        for bib, items in catalogue_rows(n, copies, n_libraries):
            rowid += 1
            batch.append((bib, items))
            if len(batch) == 2000:
                flush()
        flush()


def bare_fts(db, q, cap=None):
    """What a search answers (the number of matches and the top 20) by FTS5's own bm25,
    nothing else (no weights, no diacritics tier, no record or copy read): ranked among
    the newest `cap` matches, the candidates a search ranks (the floor of the goal), or
    among every match."""
    from appliance.core import search_sqlite

    match = search_sqlite.match_expression(search.parse(q))
    if cap is None:
        return db.execute_sql("SELECT d.bib_id FROM search_fts f JOIN search_doc d ON "
                              "d.rowid = f.rowid WHERE search_fts MATCH ? ORDER BY rank "
                              "LIMIT 20", (match,)).fetchall()
    total = db.execute_sql("SELECT count(*) FROM search_fts WHERE search_fts MATCH ?",
                           (match,)).fetchone()[0]
    return total, db.execute_sql(
        "SELECT d.bib_id FROM search_fts f JOIN search_doc d ON d.rowid = f.rowid WHERE "
        "search_fts MATCH ? AND f.rowid >= coalesce((SELECT rowid FROM search_fts WHERE "
        "search_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?), 0) ORDER BY rank "
        "LIMIT 20", (match, match, cap - 1)).fetchall()


def floors(db):
    from appliance.core import search_sqlite

    return {"bare": lambda q: bare_fts(db, q, search_sqlite.RANK_CAP),
            "bare_all": lambda q: bare_fts(db, q)}


def timed(fn, rounds):
    out = []
    for _ in range(rounds):
        for q in QUERIES:
            t = time.perf_counter()
            fn(q)
            out.append((time.perf_counter() - t) * 1000)
    return out


def serve(ctx):
    from waitress import create_server

    from appliance.web import create_app

    srv = create_server(create_app(ctx), host="127.0.0.1", port=0, threads=2)
    threading.Thread(target=srv.run, daemon=True).start()
    return srv


def latencies(ctx, rounds, floors):
    """API and OPAC page latencies through a real server, beside `floors` ({name: the
    bare index query}), interleaved per round so all see the same moments of the
    machine."""
    srv = serve(ctx)
    url = f"http://127.0.0.1:{srv.effective_port}"
    http = requests.Session()

    def api(q):
        r = http.get(f"{url}/api/v1/search", params={"q": q}, timeout=60)
        r.raise_for_status()
        return r.json()

    def opac(q):
        r = http.get(f"{url}/opac/", params={"q": q}, timeout=60)
        r.raise_for_status()
        return r.text

    timed(api, 1)  # warm caches
    timed(opac, 1)
    out = {name: [] for name in (*floors, "api", "opac")}
    for _ in range(rounds):
        for name, floor in floors.items():
            out[name] += timed(floor, 1)
        out["api"] += timed(api, 1)
        out["opac"] += timed(opac, 1)
    http.close()  # before the server: no request left for a closing server to finish
    srv.close()
    return out


def figures(times):
    """p50/p95 per measure, and the API over the bare query's p95."""
    out = {}
    for name, values in times.items():
        out[f"{name}_p50_ms"] = round(pct(values, 50), 2)
        out[f"{name}_p95_ms"] = round(pct(values, 95), 2)
        out[f"{name}_max_ms"] = round(max(values), 2)
    out["api_over_bare_p95"] = round(pct(times["api"], 95) / max(pct(times["bare"], 95), 1e-6), 2)
    out["api_mean_ms"] = round(statistics.mean(times["api"]), 2)
    # Per query, the median of its rounds: which queries make the p95.
    out["per_query_p50_ms"] = {
        q: {name: round(statistics.median(values[k::len(QUERIES)]), 1)
            for name, values in times.items()} for k, q in enumerate(QUERIES)}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--copies", type=int, default=2, help="copies per record")
    ap.add_argument("--import-records", type=int, default=5_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", help="build the catalogue in this folder and keep it")
    args = ap.parse_args(argv)
    from appliance.core import datadir

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(args.keep or tmpdir)
        ctx = datadir.init(tmp / "data", "PY-DH01", "Bench", "branch")
        rate = import_rate(ctx, args.import_records, tmp)
        print(f"import: {rate:.0f} records/s", file=sys.stderr)
        t = time.perf_counter()
        bulk_fill(ctx, max(0, args.records - args.import_records), args.copies)
        print(f"bulk fill: {time.perf_counter() - t:.1f}s", file=sys.stderr)
        times = latencies(ctx, args.rounds, floors(ctx.db))
        hits = {q: search.search(q, per_page=1)["total"] for q in QUERIES}
        ctx.close()
    result = {
        "records": args.records, "imported": args.import_records,
        "copies": max(0, args.records - args.import_records) * args.copies,
        "import_records_per_s": round(rate, 1), "import_goal_per_s": 1000,
        **figures(times), "hits": hits, "queries": len(QUERIES), "rounds": args.rounds,
        "goals": {"api_p95_ms": 50, "api_over_bare_p95": 2.0, "opac_p95_ms": 100},
    }
    out = Path(__file__).resolve().parent / "results" / "search.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
