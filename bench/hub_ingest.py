"""Hub ingest benchmark: 20 enrolled branches push their day at once, over HTTP.

    python -m bench.hub_ingest [--quick] [--branches 20] [--events 1000] [--batch 250]

Writes bench/results/hub_ingest.json. A real hub (waitress, in its own process) on
PostgreSQL and on SQLite; each branch is an enrolled device with its own keys, and pushes
its busy desk day (records, cards, copies, then checkouts and returns) as sealed batches
in order, all branches at the same time. Measured end to end: events/s from the first
request to the last answer, with every event checked, stored and applied.

Beside it, in the same run and the same PostgreSQL database, the floor: the same event
rows stored by bare multi-row INSERTs (one transaction per batch, 20 connections at once,
no HTTP, no decryption, no checks, no state). The hub cannot beat the floor; the ratio
says what the checks and the state cost.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from appliance.core import events  # noqa: E402
from sync import enrol, keys, protocol  # noqa: E402
from sync.models import Device  # noqa: E402
from tests.sync.syncsupport import (  # noqa: E402
    HubProcess,
    busy_day,
    chain_as,
    hub_database,
    make_town,
    opened,
)

GOAL_EPS = 5000  # PostgreSQL, 20 branches at once (issue 10)


def template_day(tmp, n_events):
    """One branch's busy day, made by core's own commands."""
    from tests.sync.syncsupport import init

    branch = init(tmp / "template", "PY-DH01")
    with opened(branch) as ctx:
        busy_day(ctx, n_events - 40)
        return [events.to_dict(e) for e in events.since(ctx.origin, 0, 10**6)]


def prepare(tmp, url, template, branches, batch):
    """A hub with `branches` enrolled devices and each device's sealed batches."""
    hub_dir, _, _ = make_town(tmp, (), hub_db=url)
    chains, sealed = [], []
    with opened(hub_dir) as h:
        tokens = [enrol.create_token(h, f"PY-B{i:03d}") for i in range(branches)]  # keys too
        hub_peer = protocol.Peer(h.origin, *keys.load(h.data_dir).public_dict().values())
        for i in range(branches):
            lib, dev = f"PY-B{i:03d}", f"py-b{i:03d}-bench"
            k = keys.load_or_create(tmp / f"keys-{i}")
            enrol.accept(h, {"token": tokens[i], "device_id": dev,
                             "library": lib, **k.public_dict()})
            chain = chain_as(template, dev, "PY-DH01", lib)
            chains.append(chain)
            sealed.append([protocol.seal_payload({"pull_after": 10**9}, chain[s:s + batch],
                                                 sender=dev, sign_key=k.sign,
                                                 recipient=hub_peer)
                           for s in range(0, len(chain), batch)])
        assert Device.select().count() == branches
    return hub_dir, chains, sealed


def _cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def push_all(hub_dir, sealed, threads=8):
    """Every branch pushes its batches in order, all branches at once; the hub's figures."""
    with HubProcess(hub_dir, threads=threads) as hub:
        errors, barrier = [], threading.Barrier(len(sealed) + 1)

        def push(batches):
            with requests.Session() as s:
                s.get(hub.url + "/api/v1/health", timeout=30)  # connected before the start
                barrier.wait()
                for data in batches:
                    r = s.post(hub.url + protocol.PATH, data=data, timeout=300,
                               headers={"Content-Type": "application/octet-stream"})
                    if r.status_code != 200:
                        errors.append(r.text[:300])
                        return

        workers = [threading.Thread(target=push, args=(b,)) for b in sealed]
        for t in workers:
            t.start()
        cpu0 = _cpu_seconds(hub.proc.pid)
        barrier.wait()
        t0 = time.monotonic()
        for t in workers:
            t.join()
        took = time.monotonic() - t0
        cpu = _cpu_seconds(hub.proc.pid) - cpu0
    if errors:
        raise RuntimeError(f"the hub refused batches: {errors[:3]}")
    return took, cpu


def hub_holds(hub_dir, chains):
    """Every event stored once, and the state equal to the log replayed."""
    from appliance.core.models import Event
    from appliance.core.verify import state_matches_rebuild

    with opened(hub_dir) as h:
        held = Event.select().where(Event.origin.startswith("py-b")).count()
        assert held == sum(len(c) for c in chains), (held, sum(len(c) for c in chains))
        return state_matches_rebuild(h) == []


def floor(url, chains, batch):
    """The same rows by bare multi-row INSERT: one connection per branch, all at once."""
    import psycopg2

    columns = events.COLUMNS
    pos = itertools.count(10**9)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE floor_event (LIKE event INCLUDING ALL)")
    conn.close()
    one = "(%s)" % ", ".join(["%s"] * len(columns))

    def insert(chain, conn, start):
        start.wait()
        with conn.cursor() as cur:
            for s in range(0, len(chain), batch):
                rows = [{**ev, "body": events.canonical(ev["body"]), "pos": next(pos),
                         "relayed": False} for ev in chain[s:s + batch]]
                for c in range(0, len(rows), events.INSERT_CHUNK):
                    chunk = rows[c:c + events.INSERT_CHUNK]
                    cur.execute("INSERT INTO floor_event (%s) VALUES %s" % (
                        ", ".join(columns), ", ".join([one] * len(chunk))),
                        [row[k] for row in chunk for k in columns])
                conn.commit()

    conns = [psycopg2.connect(url) for _ in chains]
    start = threading.Barrier(len(chains) + 1)
    workers = [threading.Thread(target=insert, args=(c, k, start))
               for c, k in zip(chains, conns, strict=True)]
    for t in workers:
        t.start()
    start.wait()
    t0 = time.monotonic()
    for t in workers:
        t.join()
    took = time.monotonic() - t0
    for k in conns:
        k.close()
    return took


def one_round(tmp, backend, template, branches, batch):
    with hub_database(backend) as url:
        hub_dir, chains, sealed = prepare(tmp, url, template, branches, batch)
        load = os.getloadavg()[0]
        took, cpu = push_all(hub_dir, sealed)
        total = sum(len(c) for c in chains)
        out = {"events": total, "batches": sum(len(s) for s in sealed),
               "seconds": round(took, 2), "events_per_s": round(total / took),
               "hub_cpu_s": round(cpu, 2), "hub_cpu_us_per_event": round(cpu / total * 1e6),
               "load_before": round(load, 2), "state_matches_log": hub_holds(hub_dir, chains)}
        if url:
            floor_s = floor(url, chains, batch)
            out["floor_insert_events_per_s"] = round(total / floor_s)
            out["of_floor"] = round(floor_s / took, 2)
    return out


def run(backend, template, branches, batch, rounds):
    results = []
    for n in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            try:
                results.append(one_round(Path(tmp), backend, template, branches, batch))
            except Exception as exc:  # kept beside the other figures, not lost
                results.append({"error": f"{type(exc).__name__}: {exc}"[:300]})
        print(f"  {backend} round {n + 1}: {json.dumps(results[-1])}", flush=True)
    good = [r["events_per_s"] for r in results if "events_per_s" in r]
    summary = {"rounds": results,
               "median_events_per_s": round(statistics.median(good)) if good else 0,
               "min_events_per_s": min(good, default=0),
               "max_events_per_s": max(good, default=0)}
    floors = [r["floor_insert_events_per_s"] for r in results if "floor_insert_events_per_s" in r]
    if floors:
        summary["median_floor_insert_events_per_s"] = round(statistics.median(floors))
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller run, for a smoke test")
    ap.add_argument("--branches", type=int, default=20)
    ap.add_argument("--events", type=int, default=1000, help="events per branch")
    ap.add_argument("--batch", type=int, default=250, help="events per sealed batch")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    if args.quick:
        args.events, args.rounds = 300, 1
    backends = ["postgres", "sqlite"] if os.environ.get("THUVIEN_TEST_PG") else ["sqlite"]
    result = {"goal_events_per_s_postgres": GOAL_EPS, "branches": args.branches,
              "events_per_branch": args.events, "batch": args.batch, "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        template = template_day(Path(tmp), args.events)
    for backend in backends:
        result[backend] = run(backend, template, args.branches, args.batch, args.rounds)
    if "postgres" in result:
        result["met"] = result["postgres"]["median_events_per_s"] >= GOAL_EPS
    else:
        result["met"] = None  # no PostgreSQL here: the goal is not measured
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "hub_ingest.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("postgres", "sqlite")}
                     | {b: {k: v for k, v in result[b].items() if k != "rounds"}
                        for b in backends}, indent=2))
    return result


if __name__ == "__main__":
    main()
