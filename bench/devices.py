"""Device paths that a patron waits on: an RFID pad read and a printed receipt.

    python -m bench.devices [--tags 10] [--rounds 5]

RFID: a pad of N tags through each reader protocol, driver <-> simulator over a real pty
(inventory, then per tag: read 9 blocks + AFI), beside the floor of the same number of
bare request/answer exchanges (empty inventories) on the same link. The ratio is what the
data model parsing and tag bookkeeping add on top of the link.
Printer: rendering a 20-line Vietnamese receipt to ESC/POS raster, beside the time the
printer's serial line (115200 baud, 10 bits per byte) needs to carry those bytes.
Writes bench/results/devices.json.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

from devices import printer
from devices.rfid.iso28560 import TagData
from devices.rfid.reader import open_reader
from devices.rfid.sim_3m810 import Sim3M810
from devices.rfid.sim_feig import SimFeig

RESULTS = Path(__file__).resolve().parent / "results"
SIMS = {"3m810": Sim3M810, "feig": SimFeig}


def bench_rfid(protocol: str, tags: int, rounds: int) -> dict:
    sim = SIMS[protocol]().start()
    reader = open_reader(protocol, sim.path, timeout=1.0, parity="N")
    try:
        transactions = 1 + 2 * tags + (tags - 1) // getattr(sim, "page", 10 ** 6)
        floor, pad = [], []
        for _ in range(rounds):  # empty field: one bare exchange each
            t0 = time.perf_counter()
            for _ in range(transactions):
                reader.inventory()
            floor.append(time.perf_counter() - t0)
        for i in range(tags):
            sim.add_tag(TagData(f"35{i:05d}", country="VN", library="PY-DH01"))
        for _ in range(rounds):
            t0 = time.perf_counter()
            described = [reader.describe(t) for t in reader.inventory()]
            pad.append(time.perf_counter() - t0)
            assert len(described) == tags and all("barcode" in d for d in described)
    finally:
        reader.port.close()
        sim.stop()
    pad_ms, floor_ms = statistics.median(pad) * 1000, statistics.median(floor) * 1000
    return {"tags": tags, "transactions": transactions, "pad_ms": round(pad_ms, 2),
            "floor_ms": round(floor_ms, 2), "ratio": round(pad_ms / floor_ms, 2),
            "per_tag_ms": round(pad_ms / tags, 2)}


def bench_printer(rounds: int) -> dict:
    lines = [f"{i}. Lịch sử Phú Yên tập {i} — hạn trả 15/06/2025" for i in range(1, 21)]
    times, size = [], 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        data = printer.receipt("Thư viện phường Đông Hòa", lines, "Cảm ơn bạn đọc!", 576)
        times.append(time.perf_counter() - t0)
        size = len(data)
    render_ms = statistics.median(times) * 1000
    line_ms = size * 10 / 115200 * 1000
    return {"bytes": size, "render_ms": round(render_ms, 1), "serial_115200_ms": round(
        line_ms, 1), "ratio": round(render_ms / line_ms, 3)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tags", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    result = {"rfid": {p: bench_rfid(p, args.tags, args.rounds) for p in SIMS},
              "printer": bench_printer(args.rounds)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "devices.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
