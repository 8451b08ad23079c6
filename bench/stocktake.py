"""A stocktake of a whole library: 10,000 scans in one session, each answered at once.

    python -m bench.stocktake [--copies 12000] [--scans 10000] [--http 2000]

In one run, so the ratios hold on a noisy machine:
- each scan through the core (`stocktake.commands.scan`, what the desk's route calls):
  the copy looked up, classified, and a new one recorded as a durable event; one scan in
  ten is a copy already counted (a second desk, a book laid on the pad twice);
- between the scans, two floors: a bare lookup of the copy by barcode (the compiled
  query the loan path uses), and that lookup plus a bare SQLite insert+commit with the
  same pragmas on the same disk (what a scan must at least do to be kept across a power
  cut);
- scans over HTTP against a real waitress server, as the desk's script posts them;
- finishing (the result over the whole library, recorded) and the record exported.
Writes bench/results/stocktake.json. Goal: every scan answered under 20 ms (p95 and max).
"""

import argparse
import gc
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from appliance.core import catalogue, events, users
from appliance.core.datadir import init
from appliance.core.reports import export
from appliance.core.stocktake import commands, record, result

from .core import RESULTS, Floor, login, pct, serve

PASSWORD = "bench-password"
GOAL_MS = 20.0


def stats(samples_s):
    ms = [s * 1000 for s in samples_s]
    return {"p50_ms": round(pct(ms, 50), 3), "p95_ms": round(pct(ms, 95), 3),
            "p99_ms": round(pct(ms, 99), 3), "max_ms": round(max(ms), 3), "n": len(ms)}


def load(ctx, copies):
    """A library of `copies` copies on 20 shelves, 500 records."""
    started = time.perf_counter()
    with events.writing(ctx):
        bibs = [catalogue.save_bib(ctx, {"title": f"Sách thiếu nhi tập {n}",
                                         "authors": [f"Tác giả {n % 97}"], "language": "vie"}).id
                for n in range(500)]
    for start in range(0, copies, 1000):
        with events.writing(ctx):
            for n in range(start, min(copies, start + 1000)):
                catalogue.save_item(ctx, {"bib": bibs[n % 500], "barcode": f"K{n:07d}",
                                          "location": f"Kệ {n % 20}",
                                          "call_number": f"{800 + n % 100}.{n % 7} T"})
        print(f"\r  copies {min(copies, start + 1000)}/{copies}", end="", file=sys.stderr,
              flush=True)
    print(f"\r  loaded in {time.perf_counter() - started:.0f} s     ", file=sys.stderr)


def scan_order(scans, copies):
    """The barcodes scanned: distinct copies, with one in ten a copy counted already."""
    order, fresh = [], 0
    for n in range(scans):
        if n % 10 == 9 and fresh:
            order.append(f"K{(fresh * 7919) % fresh:07d}")
        else:
            order.append(f"K{fresh:07d}")
            fresh += 1
    assert fresh <= copies
    return order


def core_scans(ctx, st_id, order, floor):
    scans, lookups, durable = [], [], []
    gc.collect()
    for code in order:
        t = time.perf_counter()
        commands.scan(ctx, st_id, [code], actor="bench")
        scans.append(time.perf_counter() - t)
        t = time.perf_counter()
        catalogue.ITEM_BY_BARCODE.first(code, ctx.library)
        lookups.append(time.perf_counter() - t)
        t = time.perf_counter()
        catalogue.ITEM_BY_BARCODE.first(code, ctx.library)
        floor.insert_commit()
        durable.append(time.perf_counter() - t)
    return scans, lookups, durable


def http_scans(data_dir, st_id, order):
    """Scans posted as the desk's script posts them, to a real `thuvien serve`."""
    proc, url, _ = serve(data_dir)
    try:
        s, _token = login(url, "bench", PASSWORD)
        page = s.get(f"{url}/desk/stocktake/{st_id}").text
        csrf = re.search(r'data-csrf="([^"]+)"', page).group(1)
        headers = {"X-CSRF-Token": csrf, "Accept": "application/json"}
        samples = []
        for code in order:
            t = time.perf_counter()
            r = s.post(f"{url}/desk/stocktake/{st_id}/scan", json={"barcode": code},
                       headers=headers)
            samples.append(time.perf_counter() - t)
            r.raise_for_status()
        return samples
    finally:
        proc.terminate()
        proc.wait(10)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=12000)
    ap.add_argument("--scans", type=int, default=10000)
    ap.add_argument("--http", type=int, default=2000, help="scans over HTTP (0: none)")
    args = ap.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="thuvien-bench-stocktake-"))
    try:
        ctx = init(folder / "data", "PY-BENCH", "Thư viện đo kiểm kê")
        users.create(ctx, "bench", PASSWORD, "librarian")
        load(ctx, args.copies)
        floor = Floor(folder)
        st = commands.start(ctx, actor="bench")
        order = scan_order(args.scans, args.copies)
        scans, lookups, durable = core_scans(ctx, st.id, order, floor)
        floor.close()
        http = []
        if args.http:
            st_http = commands.start(ctx, location="Kệ 1", actor="bench")
            http = http_scans(folder / "data", st_http.id, order[:args.http])
        t = time.perf_counter()
        st = commands.finish(ctx, st.id, actor="bench")
        finish_s = time.perf_counter() - t
        found = result.of(st)
        t = time.perf_counter()
        sheet = record.sheet(st, found, lambda m, **p: m % p if p else m)
        sizes = {fmt: len(export.as_bytes(sheet, fmt)) for fmt in ("xlsx", "pdf")}
        export_s = time.perf_counter() - t
        core = stats(scans)
        out = {
            "copies": args.copies, "scans": args.scans,
            "scan_core": core, "floor_lookup": stats(lookups),
            "floor_lookup_insert_commit": stats(durable),
            "ratio_p50_to_lookup": round(core["p50_ms"] / stats(lookups)["p50_ms"], 1),
            "ratio_p50_to_lookup_insert_commit": round(
                core["p50_ms"] / stats(durable)["p50_ms"], 2),
            "scan_http": stats(http) if http else None,
            "counts": result.counts(found),
            "finish_s": round(finish_s, 2), "export_s": round(export_s, 2),
            "record_bytes": sizes,
            "goal_ms": GOAL_MS,
            "goal_met": core["p95_ms"] < GOAL_MS and core["max_ms"] < GOAL_MS and (
                not http or (stats(http)["p95_ms"] < GOAL_MS
                             and stats(http)["max_ms"] < GOAL_MS)),
        }
        ctx.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "stocktake.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return 0 if out["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
