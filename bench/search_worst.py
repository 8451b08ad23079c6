"""The worst searches one can send, within the limits a search takes, beside a plain one.

    .venv/bin/python -m bench.search_worst [--records 200000] [--copies 2] [--rounds 5]
                                           [--backends sqlite,postgres]
                                           [--keep | --schema bench_hub_…]

A catalogue of --records synthetic Vietnamese records (bench/gen_records.py) is built
on SQLite (`bench.search.bulk_fill`) and on PostgreSQL (`bench.hub.load`, a fresh
schema of $THUVIEN_TEST_PG, dropped at the end unless --keep; --schema measures a kept
one again). Each runs a real server on loopback; the queries below, constructed to
cost the most that the limits of `appliance/core/search_query.py` let through (20
words, 4 prefixes of 3 letters, 300 characters, page 100 of 20), go through the JSON
API and the OPAC search page (facets and availability), interleaved with a plain query
("lich su") in the same rounds, so that the ratio holds on a shared, noisy machine.
The refused query (20,000 `a*`, which took 61 s before the limits) is timed too. Goal:
every worst query's slowest answer under 200 ms. Result: bench/results/search_worst.json.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests

from bench.search import bulk_fill, pct, serve

GOAL_MS = 200
PLAIN = {"q": "lich su"}
COMMON = ("lich su van hoa dat nuoc que huong mua xuan bien nui rung tuoi tho nguoi linh "
          "lang thanh pho")  # 20 of the commonest words of the catalogue
# Three-letter starts (the shortest allowed) of the commonest words, as many as allowed
# (4): each a walk of the index over every word that starts so; the rest of the 20
# words common ones.
PREFIXES = "ngu* thi* van* hoa* lic* que* huo* mua* xua* bie* nui* run* tuo* pho* kho*"
PREFIXES = " ".join(PREFIXES.split()[:4] + COMMON.split()[:16])
# Twenty words written wholly in Cyrillic look-alikes, four of them prefixes: each is
# sought two ways (as typed, and as Latin).
LOOKALIKE = " ".join(
    ["\u04bb\u043e\u0430*", "\u0441\u04bb\u0430*", "\u0440\u04bb\u0430*", "\u04bb\u043e\u0456*"]
    + ["\u04bb\u043e\u0441", "\u0441\u04bb\u0456", "\u0440\u04bb\u0456", "\u0501\u0456\u0430",
       "\u04bb\u043e\u0435", "\u04bb\u0430\u0456", "\u0441\u043e", "\u0441\u0430"] * 2)
WORST = {
    "4 three-letter prefixes, 16 common words": {"q": PREFIXES},
    "20 words in look-alikes, 4 prefixes (each sought 2 ways)": {"q": LOOKALIKE},
    "20 common words": {"q": COMMON},
    "a phrase of 20 common words": {"q": f'"{COMMON}"'},
    "4 prefixes in one field": {"q": " ".join("title:" + p for p in PREFIXES.split()[:4])},
    "20 ISBNs, each in both forms": {"q": " ".join(["604-0-00001-5"] * 20)},
    "common word, page 100": {"q": "van", "page": "100"},
    "prefixes, sorted by title, page 100": {"q": "ngu* thi*", "sort": "title", "page": "100"},
    "browse all by title, page 100": {"q": "", "sort": "title", "page": "100"},
    "common word, on the shelf": {"q": "van", "available": "1"},
    "everything on the shelf": {"q": "", "available": "1"},
    "prefixes, every filter": {"q": "ngu* thi* van*", "available": "1", "in_library": "PY-DH01",
                               "item_type": "book", "language": "vie", "year_from": "1960",
                               "year_to": "2025"},
}
HOSTILE = {"q": " ".join(["a*"] * 20000)}
TIMEOUTS: Counter = Counter()


def _timed(http, url, params, expect=(200,)):
    """Milliseconds to the answer; a time-out (503) is an answer too, and counted."""
    t = time.perf_counter()
    r = http.get(url, params=params, timeout=300)
    took = (time.perf_counter() - t) * 1000
    assert r.status_code in expect, (params.get("q", "")[:40], r.status_code, r.text[:200])
    if r.status_code == 503:
        TIMEOUTS[params.get("q", "")[:40] + str(sorted(params))] += 1
    return took


def measure(ctx, rounds):
    """{name: {api: [ms], opac: [ms]}} for the plain and the worst queries, per round
    each once, in turn."""
    srv = serve(ctx)
    base = f"http://127.0.0.1:{srv.effective_port}"
    urls = {"api": f"{base}/api/v1/search", "opac": f"{base}/opac/"}
    queries = {"plain": PLAIN, **WORST}
    times = {name: {"api": [], "opac": []} for name in queries}
    hostile = []
    with requests.Session() as http:
        for params in queries.values():  # warm caches
            for url in urls.values():
                _timed(http, url, params, (200, 503))
        TIMEOUTS.clear()
        for _ in range(rounds):
            for name, params in queries.items():
                for kind, url in urls.items():
                    times[name][kind].append(_timed(http, url, params, (200, 503)))
            hostile.append(_timed(http, urls["api"], HOSTILE, expect=(400,)))
    srv.close()  # after the session: no request left for a closing server to finish
    return times, hostile


def figures(times, hostile):
    plain = statistics.median(times["plain"]["api"])
    out = {"plain_api_p50_ms": round(plain, 2),
           "plain_opac_p50_ms": round(statistics.median(times["plain"]["opac"]), 2),
           "hostile_refused_max_ms": round(max(hostile), 2), "queries": {}}
    for name, kinds in times.items():
        out["queries"][name] = {
            f"{kind}_{stat}_ms": round(fn(values), 2) for kind, values in kinds.items()
            for stat, fn in (("p50", statistics.median), ("p95", lambda v: pct(v, 95)),
                             ("max", max))}
    worst = {n: q for n, q in out["queries"].items() if n != "plain"}
    slowest = max(worst, key=lambda n: max(worst[n]["api_max_ms"], worst[n]["opac_max_ms"]))
    out["slowest_query"] = slowest
    out["slowest_ms"] = max(worst[slowest]["api_max_ms"], worst[slowest]["opac_max_ms"])
    out["slowest_over_plain_api_p50"] = round(out["slowest_ms"] / max(plain, 1e-6), 1)
    out["met"] = out["slowest_ms"] < GOAL_MS
    out["timed_out"] = dict(TIMEOUTS)  # answers cut at search.SEARCH_SECONDS (503)
    out["over_goal"] = sorted(n for n, q in worst.items()
                              if max(q["api_max_ms"], q["opac_max_ms"]) >= GOAL_MS)
    return out


def run_sqlite(args, tmp):
    from appliance.core import datadir

    ctx = datadir.init(tmp / "sqlite", "PY-L001", "Bench", "branch")
    t = time.perf_counter()
    bulk_fill(ctx, args.records, args.copies)
    print(f"sqlite: filled in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    try:
        return figures(*measure(ctx, args.rounds))
    finally:
        ctx.close()


def run_postgres(args, tmp):
    from appliance.core import datadir
    from bench.hub import drop_schema, fresh_schema, load, schema_url

    base = os.environ.get("THUVIEN_TEST_PG")
    if not base:
        raise RuntimeError("PostgreSQL: set THUVIEN_TEST_PG (scripts/test-services.sh)")
    keep = args.keep or bool(args.schema)
    if args.schema:
        schema, url = args.schema, schema_url(base, args.schema)
    else:
        schema, url = fresh_schema(base)
    try:
        ctx = datadir.init(tmp / "pg", "PY-L001", "Bench", "hub", database=url)
        if not args.schema:
            t = time.perf_counter()
            load(ctx.db, args.records, args.copies, 10)
            print(f"postgres: loaded in {time.perf_counter() - t:.0f} s", file=sys.stderr,
                  flush=True)
        try:
            return figures(*measure(ctx, args.rounds))
        finally:
            ctx.close()
    finally:
        if keep:
            print(f"postgres: kept schema {schema}", file=sys.stderr, flush=True)
        else:
            drop_schema(base, schema)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--keep", action="store_true",
                    help="keep the loaded PostgreSQL schema (to measure it again)")
    ap.add_argument("--schema", help="measure a PostgreSQL schema kept by an earlier --keep "
                    "run instead of loading one (kept too; --records must match it)")
    args = ap.parse_args(argv)
    result = {"records": args.records, "copies_per_record": args.copies,
              "rounds": args.rounds, "goal_ms": GOAL_MS,
              "worst": {n: q.get("q", "")[:80] for n, q in WORST.items()}}
    with tempfile.TemporaryDirectory() as tmpdir:
        for backend in args.backends.split(","):
            run = {"sqlite": run_sqlite, "postgres": run_postgres}[backend]
            result[backend] = run(args, Path(tmpdir))
            print(f"{backend}: slowest {result[backend]['slowest_query']} "
                  f"{result[backend]['slowest_ms']} ms", file=sys.stderr, flush=True)
    out = Path(__file__).resolve().parent / "results" / "search_worst.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
