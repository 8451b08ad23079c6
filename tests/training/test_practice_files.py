"""Practice mode and the library's files, over a real server on loopback: a trainee who
uploads or removes a cover, uploads a digital document, attaches a copy's PDF or a class
list changes nothing in the real data folder (byte for byte) and sees their own change;
the real library's users still see the real files; a fresh copy starts without them."""

import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests
from PIL import Image

from appliance import covers
from appliance.core import patrons, verify
from appliance.core.filestore import FileStore
from appliance.core.models import DigitalDocument, DigitalJob, DigitalPage, Event
from appliance.core.requests import commands
from appliance.core.suggest import build
from appliance.core.training import practice
from tests.conftest import PASSWORD, free_port
from tests.digital import scans
from tests.digital.conftest import PAGE_TWO, need_tesseract, scanned_book
from tests.requests.conftest import make_pdf
from tests.roster import classlists

ROOT = Path(__file__).resolve().parents[2]
RED, BLUE = (200, 30, 30), (30, 30, 200)


class Desk:
    """One browser's session over real HTTP, logged in through the form."""

    def __init__(self, url, username="thuthu"):
        self.url, self.http = url, requests.Session()
        self.csrf = self._csrf("/login")
        r = self.post("/login", data={"username": username, "password": PASSWORD})
        assert r.status_code == 302, r.text[:300]
        self.csrf = self._csrf("/desk/")

    def _csrf(self, path):
        return re.search(r'name="csrf_token" value="([^"]+)"', self.get(path).text).group(1)

    def get(self, path, **kw):
        return self.http.get(self.url + path, timeout=10, allow_redirects=False, **kw)

    def post(self, path, data=None, **kw):
        return self.http.post(self.url + path, data={**(data or {}), "csrf_token": self.csrf},
                              timeout=10, allow_redirects=False, **kw)

    def api(self, method, path, **kw):
        return self.http.request(method, self.url + path, timeout=10,
                                 headers={"X-CSRF-Token": self.csrf}, **kw)

    def practise(self):
        r = self.post("/training/practice/enter")
        assert r.status_code == 302 and r.headers["Location"].endswith("/desk/")
        return self


def real_files(data_dir):
    """Every file of the real data folder but the database and the practice folder, with
    its bytes: what practice must leave as it is."""
    return {str(p.relative_to(data_dir)): p.read_bytes() for p in sorted(data_dir.rglob("*"))
            if p.is_file() and not p.name.startswith("thuvien.db")
            and p.relative_to(data_dir).parts[0] != practice.FOLDER}


def _picture(colour):
    out = io.BytesIO()
    Image.new("RGB", (300, 450), colour).save(out, "PNG")
    return out.getvalue()


def _colour(response):
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(response.content)) as im:
        return im.convert("RGB").getpixel((im.width // 2, im.height // 2))


def test_practice_covers_are_the_copys_own(ctx, server):
    kieu, so_do = ctx.bibs[0], ctx.bibs[1]
    covers.save(ctx.files, kieu.id, _picture(RED))
    real = real_files(ctx.data_dir)
    real_thumb = real[f"covers/{kieu.id}-thumb.jpg"]
    trainee, librarian = Desk(server.url).practise(), Desk(server.url, "quanly")
    assert trainee.get(f"/opac/cover/{kieu.id}?size=thumb").content == real_thumb
    for bib in (kieu, so_do):  # one replaced, one new
        r = trainee.post(f"/desk/catalogue/{bib.id}/cover",
                         files={"cover": ("bia.png", _picture(BLUE), "image/png")})
        assert r.status_code == 302, r.text[:300]
        assert _colour(trainee.get(f"/opac/cover/{bib.id}?size=thumb"))[2] > 150
    assert real_files(ctx.data_dir) == real
    assert librarian.get(f"/opac/cover/{kieu.id}?size=thumb").content == real_thumb
    assert "svg" in requests.get(f"{server.url}/opac/cover/{so_do.id}", timeout=10
                                 ).headers["Content-Type"]
    r = trainee.post(f"/desk/catalogue/{kieu.id}/cover/delete")
    assert r.status_code == 302
    assert "svg" in trainee.get(f"/opac/cover/{kieu.id}").headers["Content-Type"]
    assert "cover/delete" not in trainee.get(f"/desk/catalogue/{kieu.id}").text
    assert real_files(ctx.data_dir) == real
    assert "cover/delete" in librarian.get(f"/desk/catalogue/{kieu.id}").text
    assert requests.get(f"{server.url}/opac/cover/{kieu.id}?size=thumb",
                        timeout=10).content == real_thumb
    # a cover given again after its removal is seen again
    trainee.post(f"/desk/catalogue/{kieu.id}/cover",
                 files={"cover": ("bia.png", _picture(BLUE), "image/png")})
    assert _colour(trainee.get(f"/opac/cover/{kieu.id}?size=thumb"))[2] > 150
    assert real_files(ctx.data_dir) == real


def test_practice_digital_library_reads_the_real_pages_and_keeps_its_own(ctx, server, tmp_path):
    doc_id = scanned_book(ctx, tmp_path, ocr=False)
    real = real_files(ctx.data_dir)
    trainee, librarian = Desk(server.url).practise(), Desk(server.url, "quanly")
    viewer = trainee.get(f"/opac/digital/{doc_id}")
    assert viewer.status_code == 200
    page_id = re.search(r"/iiif/image/([^/\"]+)", trainee.get(
        f"/iiif/3/{doc_id}/manifest.json").text).group(1)
    thumb = f"digital/derived/{page_id}/thumb.jpg"
    assert trainee.get(f"/opac/digital/page/{page_id}/thumb.jpg").content == real[thumb]
    # an IIIF answer not asked before is made and kept: in the copy's own folder
    region = trainee.get(f"/iiif/image/{page_id}/10,10,200,100/max/0/gray.png")
    assert region.status_code == 200 and Image.open(io.BytesIO(region.content)).mode == "L"
    own = practice.files_for(ctx, "thuthu")
    assert len(list((own / "digital/derived" / page_id / "iiif").glob("*.png"))) == 1
    # a new document uploaded in chunks from the practice desk
    data = scans.save_pdf(tmp_path / "new.pdf", [scans.page(["Trang thực hành"])]).read_bytes()
    r = trainee.api("POST", "/api/v1/digital/uploads", json={"filename": "new.pdf",
                                                             "size": len(data)})
    assert r.status_code == 201, r.text
    upload = r.json()["id"]
    assert trainee.api("PUT", f"/api/v1/digital/uploads/{upload}", params={"offset": 0},
                       data=data).json()["received"] == len(data)
    r = trainee.api("POST", "/api/v1/digital/documents",
                    json={"bib_id": ctx.bibs[2].id, "uploads": [upload]})
    assert r.status_code == 201, r.text
    made = r.json()["document"]
    assert real_files(ctx.data_dir) == real
    assert not list((ctx.data_dir / "digital").rglob("*.part"))
    # the trainee's document: its master held here (the copy's), given back whole
    shown = trainee.get(f"/opac/digital/{made}")
    assert shown.status_code == 200 and 'id="dv-elsewhere"' not in shown.text
    assert trainee.get(f"/opac/digital/{made}/download").content == data
    assert librarian.get(f"/opac/digital/{made}").status_code == 404
    assert librarian.get(f"/opac/digital/page/{page_id}/thumb.jpg").content == real[thumb]


def _upload_in_chunks(desk, data, size=4096):
    """A document uploaded as the desk's page does, its bar's figure asked at each chunk."""
    r = desk.api("POST", "/api/v1/digital/uploads", json={"filename": "lich-su.pdf",
                                                          "size": len(data)})
    assert r.status_code == 201, r.text
    upload = r.json()["id"]
    for offset in range(0, len(data), size):
        sent = desk.api("PUT", f"/api/v1/digital/uploads/{upload}", params={"offset": offset},
                        data=data[offset:offset + size])
        held = min(offset + size, len(data))
        assert sent.json()["received"] == held  # the bar moves as at the real desk
        assert desk.api("GET", f"/api/v1/digital/uploads/{upload}").json()["received"] == held
    return upload


def _until(check, seconds=120):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("the practice copy's digital jobs were not done in time")


def _real_library(ctx):
    return (verify.digest(), Event.select().count(), DigitalDocument.select().count(),
            DigitalPage.select().count(), DigitalJob.select().count())


@contextmanager
def _thuvien_serve(data_dir, log):
    """`thuvien serve` on the library's data folder, its digital worker with it."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "serve", "--data",
                                 str(data_dir), "--port", str(port), "--sip2-port", "0"],
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _until(lambda: _answers(url), 60)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _answers(url):
    try:
        return requests.get(f"{url}/api/v1/health", timeout=1).ok
    except requests.ConnectionError:
        return False


def test_serve_makes_a_practice_uploads_pages_and_ocr_in_the_copy(ctx, tmp_path):
    need_tesseract()
    with _thuvien_serve(ctx.data_dir, tmp_path / "serve.log") as url:
        real, library = real_files(ctx.data_dir), _real_library(ctx)
        trainee, librarian = Desk(url).practise(), Desk(url, "quanly")
        data = scans.save_pdf(tmp_path / "lich-su.pdf", [scans.page(PAGE_TWO)]).read_bytes()
        upload = _upload_in_chunks(trainee, data, size=max(1024, len(data) // 3))
        r = trainee.api("POST", "/api/v1/digital/documents",
                        json={"bib_id": ctx.bibs[2].id, "uploads": [upload]})
        assert r.status_code == 201, r.text
        doc = r.json()["document"]
        page_id = re.search(r"/iiif/image/([^/\"]+)", trainee.get(
            f"/iiif/3/{doc}/manifest.json").text).group(1)
        hits = _until(lambda: trainee.api("GET", "/api/v1/digital/search", params={
            "q": "lich su dong hoa", "document": doc}).json()["hits"])
        assert [h["page_id"] for h in hits] == [page_id] and hits[0]["boxes"]
        # its page images, made by the worker in the copy's own folder
        info = trainee.get(f"/iiif/image/{page_id}/info.json")
        assert info.status_code == 200 and info.json()["width"] > 0
        assert _colour(trainee.get(f"/iiif/image/{page_id}/full/max/0/default.jpg"))
        assert trainee.get(f"/opac/digital/page/{page_id}/thumb.jpg").status_code == 200
        own = practice.files_for(ctx, "thuthu") / "digital/derived" / page_id
        assert {"full.jpg", "web.jpg", "thumb.jpg", "words.json"} <= {
            p.name for p in own.iterdir()}
        # nothing of it is real: files, database, log, the real desk's search
        assert real_files(ctx.data_dir) == real
        assert _real_library(ctx) == library
        assert not (ctx.data_dir / "digital/derived" / page_id).exists()
        assert librarian.get(f"/opac/digital/{doc}").status_code == 404
        assert librarian.get(f"/iiif/image/{page_id}/info.json").status_code == 404
        assert not librarian.api("GET", "/api/v1/digital/search",
                                 params={"q": "lich su dong hoa"}).json()["hits"]
    pc = practice.open_copy(ctx, "thuthu")
    try:
        with practice.bound(pc.db):  # the copy's queue, worked to its end
            assert DigitalJob.select().count() == 0
    finally:
        pc.close()


def test_practice_copy_pdf_and_class_list_stay_in_the_copy(ctx, server):
    patron = patrons.find(ctx, "P0001")
    req = commands.place(ctx, patron, "copy", bib_id=ctx.bibs[0].id, pages="1-2",
                         purpose="nghiên cứu", copyright_ok=True)
    commands.accept(ctx, req.id, actor="quanly")
    uploads = ctx.data_dir / "uploads"
    uploads.mkdir()
    stale = uploads / "a-real-upload-waiting-two-days"
    stale.write_bytes(b"real")
    os.utime(stale, (time.time() - 2 * 86400,) * 2)
    real = real_files(ctx.data_dir)
    trainee, librarian = Desk(server.url).practise(), Desk(server.url, "quanly")
    pdf = make_pdf()
    r = trainee.post(f"/desk/requests/{req.id}/attach",
                     files={"pdf": ("ban-sao.pdf", pdf, "application/pdf")})
    assert r.status_code == 302
    assert "THỰC HÀNH" in trainee.get(f"/desk/requests/{req.id}").text
    sha = hashlib.sha256(pdf).hexdigest()
    own = practice.files_for(ctx, "thuthu")
    assert (own / "digital/masters" / sha[:2] / f"{sha}.pdf").read_bytes() == pdf
    assert commands.get(ctx, req.id).state == "accepted"  # the real request: untouched
    r = trainee.post("/desk/patrons/import", files={"file": (
        "lop6a.xlsx", classlists.xlsx(classlists.pupils(2)),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
    assert r.status_code == 302, r.text[:300]
    preview = r.headers["Location"]
    assert trainee.get(preview).status_code == 200
    assert librarian.get(preview).status_code == 404  # the real desk holds no such file
    assert real_files(ctx.data_dir) == real  # the stale real upload was not swept by practice


def test_a_fresh_copy_starts_without_the_last_ones_files(ctx):
    kieu = ctx.bibs[0]
    covers.save(ctx.files, kieu.id, _picture(RED))
    real = real_files(ctx.data_dir)
    pc = practice.open_copy(ctx, "thuthu")
    try:
        covers.remove(pc.files, kieu.id)
        covers.save(pc.files, ctx.bibs[1].id, _picture(BLUE))
        with practice.bound(pc.db):
            build.build(pc)  # the suggestions' model: a file of the copy's own
        assert build.read(pc.files) and build.read(ctx.files) is None
        assert not covers.has_cover(pc.files, kieu.id)
    finally:
        pc.close()
    assert real_files(ctx.data_dir) == real
    pc = practice.open_copy(ctx, "thuthu", fresh=True)
    try:
        assert covers.has_cover(pc.files, kieu.id)
        assert not covers.has_cover(pc.files, ctx.bibs[1].id)
        assert build.read(pc.files) is None
        assert not [p for p in pc.files.root.rglob("*") if p.is_file()]
    finally:
        pc.close()
    practice.discard(ctx, "thuthu")
    assert not practice.files_for(ctx, "thuthu").exists()


def test_file_store_reads_through_and_writes_its_own(tmp_path):
    lower, upper = tmp_path / "real", tmp_path / "copy"
    (lower / "a").mkdir(parents=True)
    (lower / "a" / "x").write_bytes(b"real")
    store = FileStore(upper, lower=lower)
    assert store.read("a", "x") == lower / "a" / "x"
    store.write("a", "x").write_bytes(b"mine")
    assert store.read("a", "x").read_bytes() == b"mine"
    store.remove("a", "x")
    assert not store.read("a", "x").exists() and (lower / "a" / "x").read_bytes() == b"real"
    store.write("a", "x").write_bytes(b"again")
    assert store.read("a", "x").read_bytes() == b"again"
    assert store.read("a", "y") == upper / "a" / "y" and not store.own("a", "y").exists()


# The few places that may name the data folder itself in the web app and core: the
# device's settings and keys, the practice copy's making, a certificate (real on
# purpose). A file of the library goes through `ctx.files`, or practice would write it
# into the real folder.
DATA_DIR_ALLOWED = {"appliance/core/context.py", "appliance/core/datadir.py",
                    "appliance/core/training/practice.py", "appliance/web/training.py",
                    "appliance/web/device_events.py"}


def test_library_files_are_kept_through_the_file_store_only():
    found = {str(p.relative_to(ROOT)) for p in (ROOT / "appliance").rglob("*.py")
             if "cli" not in p.relative_to(ROOT).parts
             and re.search(r"\.data_dir\b", p.read_text(encoding="utf-8"))}
    assert found <= DATA_DIR_ALLOWED, sorted(found - DATA_DIR_ALLOWED)
