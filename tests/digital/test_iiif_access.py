"""IIIF Image 3 and Presentation 3 fetched by a small IIIF client over a real server;
manifests checked by iiif-prezi3; access levels walked as a matrix level x role, on
site by client address; views counted and restricted or staff views in the audit log."""

import io

import pytest
import requests
from iiif_prezi3 import Manifest
from PIL import Image

from appliance.core.digital import documents
from appliance.core.models import AuditLog, DigitalUse
from appliance.web import create_app
from tests.conftest import PASSWORD, Server, csrf_token
from tests.digital.conftest import scanned_book
from tests.factories import make_library, seed


@pytest.fixture
def branch(data_dir):
    ctx = make_library(data_dir)
    ctx.bibs = seed(ctx)
    yield ctx
    ctx.close()


class IIIFClient:
    """Reads a manifest as any IIIF viewer does: canvases, their painted images and
    image services; asks the services for regions and sizes by the Image API's URL."""

    def __init__(self, session=None):
        self.http = session or requests.Session()

    def manifest(self, url):
        r = self.http.get(url, timeout=10)
        r.raise_for_status()
        assert "iiif.io/api/presentation/3" in r.headers["Content-Type"]
        return r.json()

    @staticmethod
    def canvases(manifest):
        for canvas in manifest["items"]:
            body = canvas["items"][0]["items"][0]["body"]
            yield canvas, body, body["service"][0]["id"]

    def info(self, service):
        r = self.http.get(f"{service}/info.json", timeout=10)
        r.raise_for_status()
        info = r.json()
        assert info["type"] == "ImageService3" and info["protocol"] == "http://iiif.io/api/image"
        return info

    def image(self, service, region="full", size="max", rotation="0", quality="default",
              fmt="jpg", headers=None):
        return self.http.get(f"{service}/{region}/{size}/{rotation}/{quality}.{fmt}",
                             timeout=10, headers=headers or {})


def test_iiif_manifest_and_images_for_a_client(branch, tmp_path):
    doc_id = scanned_book(branch, tmp_path, ocr=False)
    with Server(create_app(branch, testing=True)) as srv:
        client = IIIFClient()
        m = client.manifest(f"{srv.url}/iiif/3/{doc_id}/manifest.json")
        Manifest(**m)  # iiif-prezi3 validates it
        assert m["label"]["vi"] == [documents.get(doc_id).title]
        canvases = list(client.canvases(m))
        assert len(canvases) == 2
        for canvas, _body, service in canvases:
            info = client.info(service)
            assert (info["width"], info["height"]) == (canvas["width"], canvas["height"])
            full = client.image(service)
            assert full.status_code == 200 and full.headers["Content-Type"] == "image/jpeg"
            assert "public" in full.headers["Cache-Control"]
            assert Image.open(io.BytesIO(full.content)).size == (info["width"], info["height"])
            part = client.image(service, "100,50,400,200", "200,", "90", "gray", "png")
            im = Image.open(io.BytesIO(part.content))
            assert (im.format, im.mode, im.size) == ("PNG", "L", (100, 200))
            again = client.image(service, headers={"If-None-Match": full.headers["ETag"]})
            assert again.status_code == 304
            thumb = m["items"][0]["thumbnail"][0]["id"]
            assert client.http.get(thumb, timeout=10).status_code == 200
        bad = client.image(canvases[0][2], size="5000,")  # level 1 never upscales
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_iiif_request"
        r = requests.get(f"{srv.url}/api/v1/digital/search", params={"q": ""}, timeout=10)
        assert r.status_code == 400


ROLES = ("anonymous", "patron", "staff", "admin")
LEVELS = ("public", "patrons", "onsite", "staff", "restricted")
# (level, role, on site) -> may see; downloads where seeing is allowed, but never restricted
SEES = {
    "public": lambda role, onsite: True,
    "patrons": lambda role, onsite: role != "anonymous",
    "onsite": lambda role, onsite: onsite or role in ("staff", "admin"),
    "staff": lambda role, onsite: role in ("staff", "admin"),
    "restricted": lambda role, onsite: role in ("staff", "admin") and onsite,
}
ONSITE, AWAY = "127.0.0.1", "203.0.113.9"


def _client(app, role, address):
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    if role == "patron":
        token = csrf_token(c, "/opac/login")
        assert c.post("/opac/login", data={"csrf_token": token, "card": "P0001",
                                           "pin": "1234"}).status_code == 302
    elif role in ("staff", "admin"):
        user = "thuthu" if role == "staff" else "quanly"
        assert c.post("/login", data={"username": user, "password": PASSWORD,
                                      "csrf_token": csrf_token(c, "/login")}).status_code == 302
    return c


def test_access_matrix_on_every_route(branch, tmp_path):
    from tests.digital.conftest import need_tesseract

    need_tesseract()
    docs = {level: scanned_book(branch, tmp_path, access=level, ocr=level in ("public",
                                                                            "restricted"))
            for level in LEVELS}
    app = create_app(branch, testing=True)
    seen = []
    for role in ROLES:
        for address in (ONSITE, AWAY):
            c = _client(app, role, address)
            onsite = address == ONSITE
            found = {h["document"] for h in c.get(
                "/api/v1/digital/search?q=lich+su+dong+hoa").get_json()["hits"]}
            for level in LEVELS:
                doc_id, may = docs[level], SEES[level](role, onsite)
                page = f"{doc_id}-0001"
                where = f"{level} x {role} {'on site' if onsite else 'away'}"
                for url in (f"/iiif/3/{doc_id}/manifest.json", f"/iiif/image/{page}/info.json",
                            f"/iiif/image/{page}/full/max/0/default.jpg",
                            f"/opac/digital/{doc_id}"):
                    status = c.get(url).status_code
                    assert (status == 200) == may, (where, url, status)
                download = c.get(f"/opac/digital/{doc_id}/download").status_code
                assert (download == 200) == (may and level != "restricted"), (where, download)
                if level in ("public", "restricted"):  # the two that were OCR'd
                    assert (doc_id in found) == may, (where, "search")
                seen.append((level, role, onsite, may))
    assert len(seen) == len(LEVELS) * len(ROLES) * 2
    # views counted for the reports; staff and restricted views in the audit log
    assert DigitalUse.select().where(DigitalUse.action == "view").count() > 0
    assert DigitalUse.select().where(DigitalUse.action == "download").count() > 0
    logged = {a.target for a in AuditLog.select().where(AuditLog.action == "digital.view")}
    assert logged == {docs["staff"], docs["restricted"]}
