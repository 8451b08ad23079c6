"""A school's class list of 2,000 pupils imported, beside bare inserts of the same rows.

    python -m bench.patrons_import [--pupils 2000] [--held 3000]

Measures, in one run, so the ratios hold on a noisy machine:
- `thuvien patrons import FILE` end to end (a process started as staff run it: read the
  XLSX, recognise the columns, check every row against the library's 3,000 cards held,
  number the cards, record one patron.saved event per pupil through the projector, one
  transaction), and the same in-process for XLSX and CSV, with the preview alone;
- the floors: the same pupils as bare INSERTs into the patron table of a library with the
  same schema and pragmas, in one transaction; and the same with one bare event row each
  (what the log needs at least).
Writes bench/results/patrons_import.json. Goal: 2,000 pupils in under 10 s.
"""

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from appliance.core import events
from appliance.core.datadir import db_path, init
from appliance.core.db import SQLITE_PRAGMAS
from appliance.core.roster import importing
from tests.roster import classlists as CL

RESULTS = Path(__file__).resolve().parent / "results"
LIB = "PY-TH01"


def library(folder, held):
    """A school library holding `held` earlier pupils (through the import itself)."""
    ctx = init(folder, LIB, "Thư viện trường THCS Lê Lợi")
    if held:
        importing.run(ctx, CL.xlsx(CL.pupils(held, "9A", start=100_000)), consent=True)
    return ctx


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def cli(folder, listing):
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "appliance.cli", "patrons", "import",
                          str(listing), "--data", str(folder), "--consent", "--quiet"],
                         capture_output=True, text=True, timeout=600)
    took = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"import failed: {run.stdout[-500:]} {run.stderr[-500:]}")
    return took


def _connect(path):
    conn = sqlite3.connect(path, isolation_level=None)
    for name, value in SQLITE_PRAGMAS.items():
        conn.execute(f"PRAGMA {name} = {value}")
    return conn


def floors(template, pupils):
    """Bare INSERTs of the same pupils, in a copy of an empty library's database."""
    rows = [(str(uuid.uuid4()), LIB, f"2000199{n:07d}", r[1], "child", "2027-05-31",
             r[2].year, r[2].isoformat(), r[3], r[5], f"0{r[6]}", "2026-12-01T00:00:00")
            for n, r in enumerate(pupils)]
    out = {}
    for name, with_events in (("patron_rows", False), ("patron_and_event_rows", True)):
        path = template.parent / f"floor-{name}.sqlite"
        shutil.copy(template, path)
        conn = _connect(path)
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO patron (id, library, card, name, category, expiry, birth_year, "
            "birth_date, school_class, guardian, phone, created_at, guardian_consent, "
            "blocked, keep_history, deleted, field_hlc) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,1,0,0,0,'{}')", rows)
        if with_events:
            conn.executemany(
                "INSERT INTO event (id, pos, origin, seq, hlc, wall, library, kind, body, "
                "prev_hash, hash, relayed) VALUES (?,?,?,?,?,?,?,?,?,?,?,0)",
                [(str(uuid.uuid4()), 10**6 + n, "bench", n + 1, n, "", LIB, "patron.saved",
                  events.canonical({"id": r[0], "name": r[3]}), "0" * 64, "0" * 64)
                 for n, r in enumerate(rows)])
        conn.execute("COMMIT")
        out[name] = time.perf_counter() - started
        conn.close()
    return out


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--pupils", type=int, default=2000)
    parser.add_argument("--held", type=int, default=3000)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-patrons-"))
    try:
        pupils = CL.pupils(args.pupils, "6A")
        xlsx, csv = CL.xlsx(pupils), CL.csv_text(pupils).encode("utf-8")
        listing = work / "lop6.xlsx"
        listing.write_bytes(xlsx)
        empty = init(work / "empty", LIB, "x")
        template = db_path(empty)
        empty.close()
        floor = floors(template, pupils)
        ctx = library(work / "cli", args.held)
        ctx.close()
        cli_s = cli(work / "cli", listing)
        results = {}
        for kind, data in (("xlsx", xlsx), ("csv", csv)):
            ctx = library(work / kind, args.held)
            preview_s, _ = timed(lambda data=data, ctx=ctx: importing.preview(
                ctx, data, consent=True))
            import_s, report = timed(lambda data=data, ctx=ctx: importing.run(
                ctx, data, consent=True))
            assert len(report.imported) == args.pupils, len(report.refused)
            results[kind] = {"preview_s": round(preview_s, 3), "import_s": round(import_s, 3),
                             "ms_per_pupil": round(import_s * 1000 / args.pupils, 3)}
            ctx.close()
        out = {
            "pupils": args.pupils, "cards_held": args.held,
            "cli_end_to_end_s": round(cli_s, 3), "goal_s": 10, "goal_met": cli_s < 10,
            **results,
            "floor_patron_rows_s": round(floor["patron_rows"], 4),
            "floor_patron_and_event_rows_s": round(floor["patron_and_event_rows"], 4),
            "ratio_xlsx_to_patron_rows": round(results["xlsx"]["import_s"]
                                               / floor["patron_rows"], 1),
            "ratio_xlsx_to_patron_and_event_rows": round(
                results["xlsx"]["import_s"] / floor["patron_and_event_rows"], 1),
        }
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "patrons_import.json").write_text(json.dumps(out, indent=1))
        print(json.dumps(out, indent=1))
        print("2,000 pupils under 10 s:", "✓" if cli_s < 10 else "✗")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
