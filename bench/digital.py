"""Digital library benchmark (SQLite):

1. ingest of a scanned book: `documents.attach` (read, masters, the event) and the
   queue (web images, thumbnails, OCR in Vietnamese, the text as an event) per page,
   against tesseract alone on the same pages (the floor; goal within 1.3x);
2. a page image served over HTTP by the IIIF image service (the sizes the viewer asks
   for), first answer and again; goal p95 under 30 ms;
3. search inside OCR'd books through the JSON API, on --books books of
   --book-pages pages of text (added in bulk as the projector writes them); goal p95
   under 100 ms.

    .venv/bin/python -m bench.digital [--pages 200] [--books 1000] [--book-pages 100]

Result: bench/results/digital.json.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from PIL import Image, ImageDraw, ImageFont

from appliance.core.digital import documents, jobs, textindex
from appliance.core.models import DigitalDocument, DigitalPage, DigitalText

FONT = Path(__file__).resolve().parents[1] / "devices" / "fonts" / "DejaVuSans.ttf"
WORDS = ("lịch sử đông hòa phú yên làng xã đình chùa ruộng lúa sông biển người dân năm "
         "thế kỷ chiến tranh kháng chiến văn hóa lễ hội nghề truyền thống cá muối gạo "
         "nhà thờ họ gia phả địa chí tuy hòa sông cầu hiệp trung xuân phước thôn ấp "
         "chợ bến đò trường học thầy giáo học trò mùa xuân mùa mưa bão lụt đất đai").split()
QUERIES = ["lich su dong hoa", "gia pha", "le hoi truyen thong", "song cau", "nghe muoi",
           "khang chien", "dia chi tuy hoa", "hiep trung", "cho ben do", "mua bao lut",
           "văn hóa", "đình chùa"]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def line(rng, n=9):
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize()


def scanned_page(rng, size=(1240, 1754), lines=26):
    """A page as a 150 dpi scan of printed Vietnamese text."""
    image = Image.new("L", size, 250)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), 30)
    for i in range(lines):
        draw.text((90, 110 + i * 58), line(rng), font=font, fill=15)
    return image


def floor(paths):
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    start = time.perf_counter()
    for path in paths:
        subprocess.run(["tesseract", str(path), "stdout", "-l", "vie", "tsv"], env=env,
                       capture_output=True, check=True)
    return (time.perf_counter() - start) / len(paths)


def ingest(ctx, bib_id, folder, n):
    start = time.perf_counter()
    doc_id = documents.attach(ctx, bib_id, sorted(folder.glob("*.png")))
    attached = time.perf_counter()
    done, failed = jobs.run_pending(ctx)
    assert failed == 0 and done == 2 * n, (done, failed)
    end = time.perf_counter()
    return doc_id, (end - start) / n, (attached - start) / n


def serve(ctx):
    from appliance.web import create_app
    from tests.conftest import Server

    return Server(create_app(ctx))


def page_images(url, pages, rounds=3):
    """The viewer's requests (a thumbnail, a phone's width, a desk's width, the whole
    page) for each page: the first answer (made and kept) and the same again."""
    http = requests.Session()
    first, again = [], []
    sizes = [",80", "360,", "720,", "1200,", "max"]
    for round_no in range(rounds):
        for page in pages:
            for size in sizes:
                t = time.perf_counter()
                r = http.get(f"{url}/iiif/image/{page}/full/{size}/0/default.jpg", timeout=30)
                took = (time.perf_counter() - t) * 1000
                assert r.status_code == 200, r.text[:200]
                (first if round_no == 0 else again).append(took)
    return first, again


def bulk_books(ctx, books, book_pages, rng, bib_id):
    """Documents with OCR text, written as the projector writes them (rows and index)."""
    from appliance.core import dialect

    for b in range(books):
        doc_id = f"bench-{b:05d}"
        DigitalDocument.insert(id=doc_id, bib=bib_id, library=ctx.library,
                               title=f"Sách {b}", access="public", page_count=book_pages,
                               created_at="2026-01-01T00:00:00+00:00").execute()
        pages, texts = [], []
        for n in range(1, book_pages + 1):
            pid = f"{doc_id}-{n:04d}"
            pages.append({"id": pid, "document": doc_id, "n": n, "sha256": "0" * 64,
                          "ext": "png", "width": 1240, "height": 1754})
            texts.append({"page": pid, "document": doc_id,
                          "text": "\n".join(line(rng, 10) for _ in range(26)), "hlc": 1})
        with ctx.db.atomic():
            DigitalPage.insert_many(pages).execute()
            DigitalText.insert_many(texts).execute()
            dialect.execute("INSERT INTO digital_fts (page, document, folded) VALUES " +
                            ", ".join(["(?, ?, ?)"] * len(texts)),
                            tuple(v for t in texts for v in (
                                t["page"], t["document"],
                                " ".join(textindex.folded_words(t["text"])))))


def search(url, rounds=5):
    http = requests.Session()
    took, hits = [], []
    for _ in range(rounds):
        for q in QUERIES:
            t = time.perf_counter()
            r = http.get(f"{url}/api/v1/digital/search", params={"q": q}, timeout=30)
            took.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, r.text[:200]
            hits.append(r.json()["total"])
    return took, hits


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--books", type=int, default=1000)
    ap.add_argument("--book-pages", type=int, default=100)
    ap.add_argument("--search-only", action="store_true", help="skip ingest and images")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.factories import make_library, seed

    rng = random.Random(15)
    out = {"pages": args.pages, "books": args.books, "book_pages": args.book_pages}
    with tempfile.TemporaryDirectory(prefix="bench-digital-") as tmp:
        tmp = Path(tmp)
        ctx = make_library(tmp / "data")
        bibs = seed(ctx)
        folder = tmp / "scans"
        folder.mkdir()
        for n in range(1, args.pages + 1):
            scanned_page(rng).save(folder / f"p{n:04d}.png", optimize=False)
        scans = sorted(folder.glob("*.png"))
        if not args.search_only:
            out["floor_s_per_page"] = floor(scans)
            doc_id, per_page, attach = ingest(ctx, bibs[3].id, folder, args.pages)
            out["ingest_s_per_page"], out["attach_s_per_page"] = per_page, attach
            out["ingest_vs_floor"] = per_page / out["floor_s_per_page"]
            print(f"ingest {per_page:.2f} s/page (attach {attach * 1000:.0f} ms), tesseract "
                  f"alone {out['floor_s_per_page']:.2f} s/page: {out['ingest_vs_floor']:.2f}x "
                  "(goal 1.3x)")
        bulk_books(ctx, args.books, args.book_pages, rng, bibs[3].id)
        with serve(ctx) as srv:
            if not args.search_only:
                pages = [p.id for p in documents.page_list(doc_id)][:20]
                first, again = page_images(srv.url, pages)
                out["image_first_p95_ms"] = pct(first, 95)
                out["image_p95_ms"], out["image_p50_ms"] = pct(again, 95), pct(again, 50)
                print(f"page image p95 {out['image_p95_ms']:.1f} ms (p50 "
                      f"{out['image_p50_ms']:.1f}), first answer p95 "
                      f"{out['image_first_p95_ms']:.1f} ms (goal 30 ms)")
            took, hits = search(srv.url)
            out["search_p95_ms"], out["search_p50_ms"] = pct(took, 95), pct(took, 50)
            out["search_hits_median"] = sorted(hits)[len(hits) // 2]
            print(f"search inside {args.books} books of {args.book_pages} pages: p95 "
                  f"{out['search_p95_ms']:.1f} ms (p50 {out['search_p50_ms']:.1f}), "
                  f"median {out['search_hits_median']} hits (goal 100 ms)")
        ctx.close()
    out["load"] = os.getloadavg()[0]
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    (results / "digital.json").write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
