"""First sync of a newly enrolled branch over a ward library's link.

    python -m bench.first_sync [--quick] [--copies 10000] [--patrons 5000] [--libraries 4]

A town of a few libraries is made through the commands at each library's own Pi and
pushed to a hub (its own process) on loopback: the first library holds 10,000 copies
of 7,000 records, each other library 500 copies of 350 records, and the town 5,000
patron cards (with PINs, phones and e-mails) spread over the libraries. Then a new Pi
is enrolled for the first library and makes its first sync through the test suite's
fault proxy at 64 kbit/s each way with 500 ms round trips:

- bytes down and up, seconds (goal: under 10 minutes), the branch's CPU seconds;
- the floor, in the same run: the very events it pulled as compact JSON compressed
  alone (zlib -9, no header, no crypto), and the time those bytes need on the same link
  (one round trip added); beside it, stricter peers: the same JSON without the hashes
  the receiver recomputes, deflated and with xz -9;
- a second new Pi whose link is cut (TCP reset) at three random points of the bytes the
  first one needed: each attempt goes on from the last page applied, so the bytes of all
  its attempts come to about those of the uncut sync (goal: at most 1.25x), not twice;
  it ends holding the same events.

Writes bench/results/first_sync.json.
"""

from __future__ import annotations

import argparse
import json
import lzma
import random
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from appliance.core import catalogue, events, passwords, patrons, policy  # noqa: E402
from appliance.core.models import Event  # noqa: E402
from bench.gen_records import records  # noqa: E402
from sync import agent, enrol, protocol  # noqa: E402
from tests.sync.proxy import FaultProxy  # noqa: E402
from tests.sync.syncsupport import HubProcess, enrol_all, init, make_town, opened  # noqa: E402

GOALS = {"seconds": 600, "cut_bytes_ratio": 1.25}
BITRATE, ONE_WAY_S = 64_000, 0.25
CUTS = 3


def fill(ctx, n_records, n_copies, n_patrons, seed):
    """A library's catalogue, copies and cards, made through the commands."""
    rnd = random.Random(seed)
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=5, max_renewals=2)
    gen, bib_ids = records(n_records, seed=seed), []
    for start in range(0, n_records, 1000):
        with events.writing(ctx):
            for fields in (next(gen) for _ in range(min(1000, n_records - start))):
                bib_ids.append(catalogue.save_bib(ctx, fields).id)
    prefix = ctx.library[-2:]
    for start in range(0, n_copies, 1000):
        with events.writing(ctx):
            for n in range(start, min(n_copies, start + 1000)):
                catalogue.save_item(ctx, {"bib": bib_ids[n * n_records // n_copies],
                                          "barcode": f"{prefix}{n:07d}",
                                          "call_number": f"959.7 N{n % 900:03d}"})
    for start in range(0, n_patrons, 1000):
        with events.writing(ctx):
            for n in range(start, min(n_patrons, start + 1000)):
                child = n % 5 == 0
                patrons.save(ctx, {
                    "card": f"{prefix}P{n:05d}", "name": f"Nguyễn Văn {n}",
                    "category": "child" if child else "adult",
                    "birth_year": rnd.randint(2012, 2019) if child else rnd.randint(1950, 2007),
                    "guardian": f"Nguyễn Thị {n}" if child else None,
                    "guardian_consent": child,
                    "phone": f"09{rnd.randint(10**7, 10**8 - 1)}",
                    "email": f"bandoc{n}@example.vn" if n % 3 == 0 else None,
                    "expiry": "2027-12-31", "pin": f"{rnd.randint(0, 9999):04d}"})


def make_town_with_data(tmp, libraries, copies, n_patrons):
    """The hub and every library's first Pi, filled and pushed; returns the hub folder."""
    hub_dir, branches, tokens = make_town(tmp / "town", libraries)
    cost, passwords.cost = passwords.cost, passwords.TEST_COST  # PIN hashes: same size, fast
    try:
        with HubProcess(hub_dir) as hub:
            enrol_all(hub.url, branches, tokens)
            for i, (lib, path) in enumerate(branches.items()):
                mine = copies if i == 0 else copies // 20
                cards = n_patrons * 2 // 5 if i == 0 else n_patrons * 3 // 5 // (len(libraries) - 1)
                with opened(path) as ctx:
                    fill(ctx, mine * 7 // 10, mine, cards, seed=i)
                    agent.run_once(ctx, url=hub.url)
                    print(f"  {lib}: {events.head(ctx.origin)[0]} events pushed",
                          file=sys.stderr, flush=True)
    finally:
        passwords.cost = cost
    return hub_dir


def new_pi(tmp, hub_dir, hub_url, library, name):
    with opened(hub_dir) as h:
        token = enrol.create_token(h, library)
    path = init(tmp / name, library)
    with opened(path) as ctx:
        enrol.enrol_with(ctx, hub_url, token)
    return path


def town_origins(hub_dir):
    """The devices whose events the town held before any new Pi came."""
    with opened(hub_dir):
        return sorted({e.origin for e in Event.select(Event.origin).distinct()})


def first_sync(path, hub_port, origins, cut_points=()):
    """The new Pi's sync through the slow link, run after run as the scheduler would,
    until one completes; the link is cut once at each of ``cut_points`` (bytes of the
    whole sync, both ways)."""
    points = sorted(cut_points)

    def cut_at(_n):  # this connection's offset to the next cut point not yet passed
        done = link.stats["up"] + link.stats["down"]
        ahead = [p - done for p in points if p > done]
        return (ahead[0], "rst") if ahead else None

    link = FaultProxy(hub_port, bitrate=BITRATE, delay=ONE_WAY_S, cut_at=cut_at)
    runs, errors, pulled = 0, [], 0
    with link, opened(path) as ctx:
        t0, cpu0 = time.monotonic(), time.thread_time()  # the agent runs on this thread
        while True:
            runs += 1
            try:
                pulled += agent.run_once(ctx, url=link.url)["pulled"]
                break
            except protocol.SyncError as exc:  # the scheduler's next run goes on
                errors.append(f"{exc.code}: {exc.message}"[:200])
                if runs >= 20:
                    raise
        took, cpu = time.monotonic() - t0, time.thread_time() - cpu0
        held = Event.select().where(Event.origin << origins).count()
    return {"seconds": round(took, 1), "branch_cpu_s": round(cpu, 1), "bytes_down": link.stats["down"],
            "bytes_up": link.stats["up"], "bytes": link.stats["down"] + link.stats["up"],
            "connections": link.stats["connections"], "cuts": link.stats["cuts"],
            "runs": runs, "errors": errors, "events_pulled": pulled, "town_events_held": held}


def floor(path):
    """The events the new Pi pulled, as compact JSON deflated alone, and their time on
    the same link."""
    with opened(path) as ctx:
        pulled = [events.to_dict(e) for e in Event.select().where(Event.origin != ctx.origin)
                  .order_by(Event.pos)]
    text = json.dumps(pulled, ensure_ascii=False, separators=(",", ":")).encode()
    packed = len(zlib.compress(text, 9))
    # stricter peers: without the hashes the receiver recomputes, and with xz
    bare = json.dumps([{k: v for k, v in d.items() if k != "hash"} for d in pulled],
                      ensure_ascii=False, separators=(",", ":")).encode()
    return {"events": len(pulled), "json_bytes": len(text), "zlib9_bytes": packed,
            "bytes_per_event": round(packed / max(1, len(pulled)), 1),
            "seconds": round(packed * 8 / BITRATE + 2 * ONE_WAY_S, 1),
            "zlib9_without_hashes_bytes": len(zlib.compress(bare, 9)),
            "xz_without_hashes_bytes": len(lzma.compress(bare, preset=9))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small town, for a smoke test")
    ap.add_argument("--copies", type=int, default=10_000)
    ap.add_argument("--patrons", type=int, default=5_000)
    ap.add_argument("--libraries", type=int, default=4)
    ap.add_argument("--seed", type=int, default=11, help="where the cuts fall")
    args = ap.parse_args(argv)
    if args.quick:
        args.copies, args.patrons, args.libraries = 200, 100, 2
    libraries = tuple(f"PY-DH{n:02d}" for n in range(1, args.libraries + 1))
    result = {"bench": "first_sync", "goals": GOALS,
              "link": {"bits_per_s": BITRATE, "round_trip_s": 2 * ONE_WAY_S},
              "town": {"libraries": len(libraries), "copies_here": args.copies,
                       "patrons": args.patrons}}
    with tempfile.TemporaryDirectory(prefix="thuvien-first-sync-") as tmp:
        tmp = Path(tmp)
        t0 = time.monotonic()
        hub_dir = make_town_with_data(tmp, libraries, args.copies, args.patrons)
        result["town"]["made_in_s"] = round(time.monotonic() - t0)
        origins = town_origins(hub_dir)
        with HubProcess(hub_dir) as hub:
            plain = new_pi(tmp, hub_dir, hub.url, libraries[0], "new-pi")
            result["uncut"] = first_sync(plain, hub.port, origins)
            result["floor"] = floor(plain)
            rnd = random.Random(args.seed)
            points = sorted(rnd.randrange(result["uncut"]["bytes"]) for _ in range(CUTS))
            cut = new_pi(tmp, hub_dir, hub.url, libraries[0], "new-pi-cut")
            result["cut"] = dict(first_sync(cut, hub.port, origins, points), cut_points=points)
    uncut, cut, base = result["uncut"], result["cut"], result["floor"]
    result["ratios"] = {
        "bytes_down_to_floor": round(uncut["bytes_down"] / base["zlib9_bytes"], 2),
        "seconds_to_floor": round(uncut["seconds"] / base["seconds"], 2),
        "cut_bytes_to_uncut": round(cut["bytes"] / uncut["bytes"], 3)}
    result["met"] = {
        "seconds": uncut["seconds"] < GOALS["seconds"],
        "cut_resumes": cut["cuts"] == CUTS and cut["town_events_held"] == uncut["town_events_held"]
        and result["ratios"]["cut_bytes_to_uncut"] <= GOALS["cut_bytes_ratio"]}
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "first_sync.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
