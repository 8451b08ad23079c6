"""SIP2 throughput: checkout + checkin cycles from concurrent clients on loopback (in a
process of their own, as terminals are separate machines),
beside the same cycle through the core alone (the floor the protocol adds to).

    python -m bench.sip2 [--clients 10] [--seconds 10]

Writes bench/results/sip2.json. Goals: over 300 transactions/s, p99 under 25 ms.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import tempfile
import threading
import time
from pathlib import Path

from appliance.core import catalogue, circulation, datadir, patrons, users
from appliance.sip2.server import serve_in_thread

LIB = "PY-DH01"
RESULTS = Path(__file__).resolve().parent / "results"


def _checksum(data: bytes) -> bytes:
    return b"%04X" % ((-sum(data)) & 0xFFFF)


class Client:
    """A minimal SIP2 client (CR framing, AY/AZ) that times each round trip."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.seq = 0

    def call(self, body: str) -> bytes:
        data = body.encode() + b"AY%dAZ" % self.seq
        self.seq = (self.seq + 1) % 10
        self.sock.sendall(data + _checksum(data) + b"\r")
        while b"\r" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r")
        return line


def setup(data_dir, clients, items_each):
    ctx = datadir.init(data_dir, LIB, "Bench")
    users.create(ctx, "kiosk1", "kiosk-secret", "kiosk")
    bib = catalogue.save_bib(ctx, {"title": "Truyện Kiều", "authors": ["Nguyễn Du"]})
    for c in range(clients):
        patrons.save(ctx, {"card": f"P{c:04d}", "name": f"Bạn đọc {c}", "category": "adult"})
        for i in range(items_each):
            catalogue.save_item(ctx, {"bib": bib.id, "barcode": f"B{c:03d}{i:03d}"})
    return ctx


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary(latencies, elapsed):
    return {"transactions": len(latencies), "seconds": round(elapsed, 3),
            "tps": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 99) * 1000, 2)}


def _clients(port, clients, seconds, items_each, out):
    """The terminals: their own process (as on their own machines), a thread each."""
    latencies, errors, lock = [], [], threading.Lock()
    stop = time.monotonic() + seconds

    def worker(n):
        cl = Client(port)
        assert cl.call("9300CNkiosk1|COkiosk-secret|")[:3] == b"941"
        mine, i = [], 0
        while time.monotonic() < stop:
            barcode = f"B{n:03d}{i % items_each:03d}"
            for body in (f"11NN{_now()}{' ' * 18}AO{LIB}|AAP{n:04d}|AB{barcode}|AC|",
                         f"09N{_now()}{_now()}AP|AO{LIB}|AB{barcode}|AC|"):
                t = time.perf_counter()
                reply = cl.call(body)
                mine.append(time.perf_counter() - t)
                if reply[2:3] != b"1":
                    errors.append(reply[:80].decode(errors="replace"))
            i += 1
        cl.sock.close()
        with lock:
            latencies.extend(mine)

    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((latencies, errors, time.monotonic() - start))


def run_sip2(ctx, clients, seconds, items_each):
    handle = serve_in_thread(ctx, "127.0.0.1", 0, max_connections=clients + 2)
    mp = multiprocessing.get_context("fork")
    out = mp.Queue()
    proc = mp.Process(target=_clients, args=(handle.port, clients, seconds, items_each, out))
    proc.start()
    latencies, errors, elapsed = out.get(timeout=seconds + 120)
    proc.join(30)
    handle.shutdown()
    return {**summary(latencies, elapsed), "errors": len(errors), "first_errors": errors[:3]}


def _now():
    return time.strftime("%Y%m%d    %H%M%S")


def run_core(ctx, seconds, items_each):
    """The same cycle in one thread straight through core: no protocol, no sockets."""
    latencies = []
    stop = time.monotonic() + seconds
    start = time.monotonic()
    i = 0
    while time.monotonic() < stop:
        barcode = f"B000{i % items_each:03d}"
        t = time.perf_counter()
        circulation.checkout(ctx, "P0000", barcode)
        latencies.append(time.perf_counter() - t)
        t = time.perf_counter()
        circulation.checkin(ctx, barcode)
        latencies.append(time.perf_counter() - t)
        i += 1
    return summary(latencies, time.monotonic() - start)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args(argv)
    items_each = 3
    with tempfile.TemporaryDirectory() as tmp:
        ctx = setup(Path(tmp) / "data", args.clients, items_each)
        core = run_core(ctx, args.seconds / 2, items_each)
        sip = run_sip2(ctx, args.clients, args.seconds, items_each)
        ctx.close()
    result = {"benchmark": "sip2", "clients": args.clients, "core": core, "sip2": sip,
              "sip2_vs_core_tps": round(sip["tps"] / core["tps"], 3) if core["tps"] else None,
              "goals": {"tps": 300, "p99_ms": 25},
              "meets_goals": sip["tps"] > 300 and sip["p99_ms"] < 25 and not sip["errors"]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sip2.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
