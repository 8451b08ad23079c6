"""Sync benchmark: bytes on the wire per loan event, a busy day over 64 kbit/s, hub ingest.

    python -m bench.sync [--quick]

Writes bench/results/sync.json. Each figure sits beside its floor or goal:
- envelope bytes per loan event for batches of 1, 10, 100 and 1,000, against the
  same events as compact JSON compressed alone (zlib -9, no encryption);
- seconds to push a busy day (1,000 loan events) through a 64 kbit/s link with
  500 ms round trips (the test suite's fault proxy);
- hub ingest, events/s, with 20 branches pushing at once, on SQLite and (when
  THUVIEN_TEST_PG is set) PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from appliance.core import events  # noqa: E402
from sync import agent, enrol, keys, protocol  # noqa: E402
from sync.models import Device  # noqa: E402
from tests.sync.proxy import FaultProxy  # noqa: E402
from tests.sync.syncsupport import (  # noqa: E402
    HubProcess,
    busy_day,
    chain_as,
    enrol_all,
    hub_database,
    make_town,
    opened,
)

GOALS = {"ratio_at_100": 1.2, "bytes_at_100": 60, "busy_day_s": 15, "ingest_eps": 2000}


def loan_events(ctx, after):
    return [events.to_dict(e) for e in events.since(ctx.origin, after, 10**6)
            if e.kind.startswith("loan.")]


def wire_bytes(ctx, loans, hub):
    mine = keys.load(ctx.data_dir)
    out = {}
    for n in (1, 10, 100, 1000):
        if n > len(loans):
            continue
        sizes, floors = [], []
        for start in range(0, len(loans) - n + 1, max(n, len(loans) // 10)):
            chunk = loans[start:start + n]
            sealed = protocol.seal_payload({"pull_after": 0, "pull_limit": 1000}, chunk,
                                           sender=ctx.origin, sign_key=mine.sign, recipient=hub)
            floor = zlib.compress(json.dumps(chunk, ensure_ascii=False,
                                             separators=(",", ":")).encode(), 9)
            sizes.append(len(sealed))
            floors.append(len(floor))
        ours, base = sum(sizes) / len(sizes) / n, sum(floors) / len(floors) / n
        out[str(n)] = {"bytes_per_event": round(ours, 1), "floor_bytes_per_event": round(base, 1),
                       "ratio_to_floor": round(ours / base, 3)}
    return out


def busy_day_push(tmp, n_events):
    hub_dir, branches, tokens = make_town(tmp / "day", ("PY-DH01",))
    with HubProcess(hub_dir) as hub:
        enrol_all(hub.url, branches, tokens)
        with opened(branches["PY-DH01"]) as ctx:
            agent.run_once(ctx, url=hub.url)  # what enrolment and setup made
            after = events.head(ctx.origin)[0]
            busy_day(ctx, n_events)
            loans = loan_events(ctx, after)
            hub_peer = protocol.hub_peer(ctx.settings)
            sizes = wire_bytes(ctx, loans, hub_peer)
            with FaultProxy(hub.port, bitrate=64_000, delay=0.25) as link:
                t0 = time.monotonic()
                result = agent.run_once(ctx, url=link.url)
                took = time.monotonic() - t0
            pushed = events.head(ctx.origin)[0] - after
    return sizes, {"events": pushed, "seconds": round(took, 2), "bytes_up": link.stats["up"],
                   "bytes_down": link.stats["down"], "bytes_up_per_event":
                   round(link.stats["up"] / pushed, 1), "pushed": result["pushed"]}


def ingest(tmp, backend, branches=20, per_branch=500, batch=500):
    """20 branches push at once; events/s the hub applies, measured end to end over HTTP."""
    with hub_database(backend) as url:
        hub_dir, libs, tokens = make_town(tmp / f"ingest-{backend}", ("PY-DH01",), hub_db=url)
        with opened(libs["PY-DH01"]) as ctx:
            busy_day(ctx, per_branch - 40)
            template = [events.to_dict(e) for e in events.since(ctx.origin, 0, 10**6)]
        with opened(hub_dir) as h:
            hub_peer = protocol.Peer(h.origin, *keys.load(h.data_dir).public_dict().values())
            senders = []
            for i in range(branches):
                lib = f"PY-B{i:03d}"
                k = keys.load_or_create(tmp / f"keys-{backend}-{i}")
                dev = f"py-b{i:03d}-bench"
                enrol.accept(h, {"token": enrol.create_token(h, lib), "device_id": dev,
                                 "library": lib, **k.public_dict()})
                chain = chain_as(template, dev, "PY-DH01", lib)
                senders.append([protocol.seal_payload({"pull_after": 10**9}, chain[s:s + batch],
                                                      sender=dev, sign_key=k.sign,
                                                      recipient=hub_peer)
                                for s in range(0, len(chain), batch)])
            total = sum(len(template) for _ in senders)
            assert Device.select().count() == branches
        with HubProcess(hub_dir, threads=8) as hub:
            errors = []

            def push(batches):
                with requests.Session() as s:
                    for data in batches:
                        r = s.post(hub.url + protocol.PATH, data=data, timeout=300)
                        if r.status_code != 200:
                            errors.append(r.text)

            threads = [threading.Thread(target=push, args=(b,)) for b in senders]
            t0 = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            took = time.monotonic() - t0
        if errors:
            raise SystemExit(f"ingest refused batches: {errors[:3]}")
    return {"branches": branches, "events": total, "seconds": round(took, 2),
            "events_per_s": round(total / took)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    args = ap.parse_args(argv)
    n_day, per_branch = (300, 150) if args.quick else (1000, 500)
    result = {"goals": GOALS}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        result["wire"], result["busy_day_64kbit"] = busy_day_push(tmp, n_day)
        result["ingest"] = {"sqlite": ingest(tmp, "sqlite", per_branch=per_branch)}
        if os.environ.get("THUVIEN_TEST_PG"):
            try:
                result["ingest"]["postgres"] = ingest(tmp, "postgres", per_branch=per_branch)
            except Exception as exc:  # report it beside the other figures, do not lose them
                result["ingest"]["postgres"] = {"error": f"{type(exc).__name__}: {exc}"[:300],
                                                "events_per_s": 0}
    w100 = result["wire"]["100"]
    result["met"] = {
        "ratio_at_100": w100["ratio_to_floor"] <= GOALS["ratio_at_100"],
        "bytes_at_100": w100["bytes_per_event"] < GOALS["bytes_at_100"],
        "busy_day_s": result["busy_day_64kbit"]["seconds"] < GOALS["busy_day_s"],
        "ingest_eps": {k: v["events_per_s"] > GOALS["ingest_eps"]
                       for k, v in result["ingest"].items()},
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sync.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
