"""Catalogue benchmark: import rate through core commands, and search latency
through the JSON API beside the same queries on the bare FTS5 index.

    .venv/bin/python -m bench.search [--records 200000] [--import-records 5000]

Records beyond the imported ones are added in bulk (rows + index) so the query
part runs against a catalogue of --records. Result: bench/results/search.json.
"""

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

from appliance.core import marcio, search
from appliance.core.models import Bib
from bench.gen_records import records, write_csv

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
        report = marcio.import_stream(ctx, "csv", fh)
    took = time.perf_counter() - start
    assert report.created == n and not report.skipped, report.as_dict()["skipped"][:3]
    return n / took


def bulk_fill(ctx, n, offset):
    """Rows straight into Bib and the index: the query benchmark needs a big catalogue."""
    rows = []
    now = "2025-01-01T00:00:00+07:00"
    for r in records(n, seed=2):
        rows.append({"id": str(uuid.uuid4()), "title": r["title"],
                     "authors": json.dumps(r["authors"].split("; "), ensure_ascii=False),
                     "publisher": r["publisher"], "year": r["year"],
                     "isbn": None,
                     "language": r["language"], "ddc": r["ddc"],
                     "subjects": json.dumps(r["subjects"].split("; "), ensure_ascii=False),
                     "series": r["series"] or None, "created_at": now, "updated_hlc": 0})
    db = ctx.db
    with db.atomic():
        for start in range(0, len(rows), 500):
            Bib.insert_many(rows[start:start + 500]).execute()
        for row in rows:
            search.on_bib_changed(db, row["id"])


def bare_fts(db, q):
    match = search.match_expression(search.parse(q))
    return db.execute_sql("SELECT d.bib_id FROM search_fts f JOIN search_doc d ON "
                          "d.rowid = f.rowid WHERE search_fts MATCH ? ORDER BY rank LIMIT 20",
                          (match,)).fetchall()


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


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--import-records", type=int, default=5_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    from appliance.core import datadir

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        ctx = datadir.init(tmp / "data", "PY-DH01", "Bench", "branch")
        rate = import_rate(ctx, args.import_records, tmp)
        print(f"import: {rate:.0f} records/s", file=sys.stderr)
        t = time.perf_counter()
        bulk_fill(ctx, max(0, args.records - args.import_records), args.import_records)
        print(f"bulk fill: {time.perf_counter() - t:.1f}s", file=sys.stderr)
        srv = serve(ctx)
        url = f"http://127.0.0.1:{srv.effective_port}/api/v1/search"
        http = requests.Session()

        def api(q):
            r = http.get(url, params={"q": q}, timeout=30)
            r.raise_for_status()
            return r.json()

        timed(api, 1)  # warm caches
        bare = timed(lambda q: bare_fts(ctx.db, q), args.rounds)
        through_api = timed(api, args.rounds)
        srv.close()
        ctx.close()
    result = {
        "records": args.records, "imported": args.import_records,
        "import_records_per_s": round(rate, 1), "import_goal_per_s": 1000,
        "api_p50_ms": round(pct(through_api, 50), 2), "api_p95_ms": round(pct(through_api, 95), 2),
        "fts_p50_ms": round(pct(bare, 50), 2), "fts_p95_ms": round(pct(bare, 95), 2),
        "api_over_fts_p95": round(pct(through_api, 95) / max(pct(bare, 95), 1e-6), 2),
        "api_mean_ms": round(statistics.mean(through_api), 2),
        "queries": len(QUERIES), "rounds": args.rounds,
        "goals": {"api_p95_ms": 50, "api_over_fts_p95": 2.0},
    }
    out = Path(__file__).resolve().parent / "results" / "search.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
