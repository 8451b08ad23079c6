"""Page weight and answer time of the desk, the kiosk and the OPAC results page.

    python -m bench.pages [--records 20000] [--copies 50000] [--patrons 5000] [--n 60]

A library loaded as in bench.core is served by a real `thuvien serve`; a librarian and a
kiosk log in through their forms and each page is fetched `--n` times over loopback with
keep-alive (the answer time is the server's time plus a fraction of a millisecond). A
page's weight is its HTML; the stylesheet and script it loads are given once beside it
(browsers keep them). Writes bench/results/pages.json. Goals: desk and kiosk pages p50
within 10 ms; the OPAC results page (a full page of 20 hits) not heavier than before.
"""

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import requests

from appliance.core import circulation, holds, users
from appliance.core.datadir import init
from appliance.core.models import Item

from .core import PASSWORD, RESULTS, load, login, serve, summary

CARD = "P000003"


def timed(n, fetch):
    """The answer times of `n` fetches after three to warm up, and the last one's size."""
    samples, size = [], 0
    for i in range(n + 3):
        t = time.perf_counter()
        r = fetch()
        elapsed = time.perf_counter() - t
        assert r.status_code in (200, 302, 303), (r.status_code, r.text[:300])
        size = len(r.content)
        if i >= 3:
            samples.append(elapsed)
    return {"time": summary(samples), "html_bytes": size}


def measure(url, n):
    out = {}
    desk, token = login(url, "bench")
    kiosk, ktoken = login(url, "kiosk")
    barcodes = iter(f"B{i:07d}" for i in range(40_000, 49_000))

    def page(name, session, path):
        out[name] = timed(n, lambda: session.get(url + path))

    page("desk home", desk, "/desk/")
    page("desk patron (3 loans)", desk, f"/desk/patrons/{CARD}")
    page("desk returns", desk, "/desk/checkin")
    page("desk catalogue list", desk, "/desk/bibs?q=tap+12")
    page("desk catalogue, no marks", desk, "/desk/bibs?q=lich+su+dia")
    page("desk catalogue, sorted", desk, "/desk/bibs")
    page("desk patrons, no marks", desk, "/desk/patrons?q=ban+doc+12")
    page("desk patrons, sorted", desk, "/desk/patrons")
    page("desk conflicts", desk, "/desk/conflicts")
    page("desk copy", desk, "/desk/items/B0000010")
    page("desk pull list (20 holds)", desk, "/desk/holds/pull")

    def lend():
        return desk.post(f"{url}/desk/checkout", allow_redirects=False,
                         data={"csrf_token": token, "card": "P000004", "barcode": next(barcodes)})
    out["desk lend (POST)"] = timed(n, lend)

    returning = iter(f"B{i:07d}" for i in range(40_000, 49_000))

    def give_back():
        return desk.post(f"{url}/desk/checkin",
                         data={"csrf_token": token, "barcode": next(returning)})
    out["desk return (POST, page)"] = timed(n, give_back)

    page("kiosk start", kiosk, "/kiosk/")
    kiosk.post(f"{url}/kiosk/identify", data={"csrf_token": ktoken, "card": CARD})
    page("kiosk session (3 loans)", kiosk, "/kiosk/")
    page("kiosk returns", kiosk, "/kiosk/returns")
    page("opac results", requests.Session(), "/opac/?q=lich+su")
    page("opac record", requests.Session(), "/opac/record/" + re.search(
        r'/opac/record/([0-9a-f-]+)', requests.get(f"{url}/opac/?q=tap+12").text).group(1))
    assets = {name: len(requests.get(f"{url}/static/{name}").content)
              for name in ("app.css", "desk.js", "kiosk/kiosk.css", "kiosk/kiosk.js")}
    return out, assets


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--copies", type=int, default=50_000)
    ap.add_argument("--patrons", type=int, default=5_000)
    ap.add_argument("--n", type=int, default=60)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="thuvien-bench-") as tmp:
        ctx = init(Path(tmp) / "data", "PY-DH01", "Thư viện phường Hòa Hiệp Trung")
        load(ctx, args.records, args.copies, args.patrons)
        users.create(ctx, "bench", PASSWORD, "librarian")
        users.create(ctx, "kiosk", PASSWORD, "kiosk")
        for barcode in ("B0000001", "B0000002", "B0000003"):
            circulation.checkout(ctx, CARD, barcode)
        for i in range(100, 120):  # holds waiting for copies on the shelf: the pull list
            holds.place(ctx, f"P{i:06d}", Item.get(Item.barcode == f"B{i:07d}").bib_id)
        ctx.close()
        proc, url, _ = serve(Path(tmp) / "data")
        try:
            pages, assets = measure(url, args.n)
        finally:
            proc.terminate()
            proc.wait(10)
    desk = [v["time"]["p50_ms"] for k, v in pages.items() if k.startswith(("desk", "kiosk"))]
    result = {"bench": "pages", "loaded": {"records": args.records, "copies": args.copies,
                                           "patrons": args.patrons},
              "pages": pages, "assets_bytes": assets,
              # a full page of 20 results weighed 16,528 bytes when this bench was
              # written; it must not grow
              "goals": {"desk_and_kiosk_p50_within_10ms": max(desk) <= 10,
                        "opac_results_page_not_heavier":
                            pages["opac results"]["html_bytes"] <= 16_600}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pages.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    for name, v in pages.items():
        print(f"{name:28} {v['html_bytes'] / 1024:6.1f} KB  p50 {v['time']['p50_ms']:6.2f} ms"
              f"  p99 {v['time']['p99_ms']:6.2f} ms")
    print("assets:", ", ".join(f"{k} {v / 1024:.1f} KB" for k, v in assets.items()))
    print("goals:", result["goals"])
    return 0 if all(result["goals"].values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
