"""The digital library's files through a real hub on loopback (SQLite and PostgreSQL):
A's document's masters go up to the hub in chunks, resume where a stopped run left them,
and become the hub's pages (its own images, its IIIF); B gets the pages as thumbnails
only, shown in its OPAC with the link to the hub's viewer. A restricted document's
master never goes; a device cannot park another library's bytes at the hub."""

import base64
import hashlib
import json
import random
from types import SimpleNamespace

import pytest
import requests
from PIL import Image

from appliance import web
from appliance.core.digital import documents, jobs, store
from appliance.core.models import DigitalDocument, DigitalJob, Event
from sync import agent, files, link, protocol
from sync.models import FileHeld, get_state
from tests.sync.proxy import FaultProxy
from tests.sync.syncsupport import deadline_at, hub_database, opened, running_town, seed

A, B = "PY-DH01", "PY-DH02"


def _noise(path, size=(700, 500), seed_=7):
    """A page that does not compress: a master of a few hundred KB, several chunks."""
    rnd = random.Random(seed_)
    Image.frombytes("L", size, bytes(rnd.getrandbits(8) for _ in range(size[0] * size[1]))
                    ).save(path, "PNG")
    return path


def _bib_id():
    return json.loads(Event.get(Event.kind == "bib.saved").body)["id"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def town(request, tmp_path):
    with hub_database(request.param) as url:
        with running_town(tmp_path, (A, B), hub_db=url, admin=None) as town:
            hub_dir, branches, hub = town.hub_dir, town.branches, town.hub
            with opened(branches[A]) as ctx:
                seed(ctx, n_items=1, n_patrons=0)
                bib = _bib_id()
                pages = [_noise(tmp_path / "p1.png", seed_=1), _noise(tmp_path / "p2.png",
                                                                      seed_=2)]
                doc = documents.attach(ctx, bib, pages, access="public", title="Địa chí Đông Hòa")
                hidden = documents.attach(ctx, bib, [_noise(tmp_path / "s.png", seed_=3)],
                                          access="restricted", title="Tài liệu mật")
                DigitalJob.delete().where(DigitalJob.kind == "ocr").execute()
                assert jobs.run_pending(ctx)[1] == 0
                masters = {p.sha256: p.size for p in documents.page_list(doc)}
                secret = documents.page_list(hidden)[0]
            yield SimpleNamespace(hub=hub, hub_dir=hub_dir, a=branches[A], b=branches[B],
                                  doc=doc, bib=bib, masters=masters, secret=secret)


def _hub_masters(town):
    return {sha: store.master_path(town.hub_dir, sha, "png").exists() for sha in town.masters}


def test_masters_go_up_resume_and_thumbnails_come_down(town, monkeypatch):
    monkeypatch.setattr(files, "CHUNK", 64 * 1024)
    with opened(town.a) as a:
        with deadline_at("put", 3):  # the run's deadline comes mid-file
            first = agent.run_once(a)["files"]
        assert first["unfinished"] and first["masters"] == 0
        assert not any(_hub_masters(town).values())
        parts = list((town.hub_dir / files.INCOMING).glob("*.part"))
        assert [p.stat().st_size for p in parts] == [2 * 64 * 1024], "two chunks kept"

        second = agent.run_once(a)["files"]
        assert second["masters"] == 2 and "unfinished" not in second
        assert second["bytes"] == sum(town.masters.values()) - 2 * 64 * 1024, "resumed"
        assert all(_hub_masters(town).values())
        assert agent.run_once(a)["files"] == {"thumbs": 0, "masters": 0, "bytes": 0}
        assert get_state("files") == {"thumbs": 0, "masters": 0, "bytes": 0}
    for sha in town.masters:  # what the hub keeps is what A took, byte for byte
        held = store.master_path(town.hub_dir, sha, "png").read_bytes()
        assert hashlib.sha256(held).hexdigest() == sha
    assert not list(town.hub_dir.rglob(f"{town.secret.sha256}*")), "restricted stays home"

    with opened(town.hub_dir) as hub:  # the hub's worker makes its own pages
        assert jobs.pending() == 2
        assert jobs.run_pending(hub) == (2, 0)
        page_ids = [p.id for p in documents.page_list(town.doc)]
    client = web.create_app(town.hub_dir).test_client()
    resp = client.get(f"/iiif/image/{page_ids[0]}/full/200,/0/default.jpg")
    assert resp.status_code == 200 and resp.data[:2] == b"\xff\xd8"

    with opened(town.b) as b:
        got = agent.run_once(b, url=town.hub.url)["files"]
        assert got["thumbs"] == 2 and got["masters"] == 0
        assert {r.key for r in FileHeld.select().where(FileHeld.kind == "thumb")} == set(page_ids)
        assert agent.run_once(b)["files"]["thumbs"] == 0, "never fetched twice"
    hub_thumb = (store.derived_dir(town.hub_dir, page_ids[0]) / "thumb.jpg").read_bytes()
    assert (store.derived_dir(town.b, page_ids[0]) / "thumb.jpg").read_bytes() == hub_thumb
    assert not list((town.b / "digital").rglob("masters/*/*")), "no master at B"

    opac = web.create_app(town.b).test_client()
    record = opac.get(f"/opac/record/{town.bib}").get_data(as_text=True)
    assert f'class="digital-cover" src="/opac/digital/page/{page_ids[0]}/thumb.jpg"' in record
    viewer = opac.get(f"/opac/digital/{town.doc}").get_data(as_text=True)
    assert 'id="dv-thumbs"' in viewer and 'id="dv-elsewhere"' in viewer
    assert viewer.count("/thumb.jpg") == 2
    assert opac.get(f"/opac/digital/page/{page_ids[1]}/thumb.jpg").data == (
        store.derived_dir(town.hub_dir, page_ids[1]) / "thumb.jpg").read_bytes()


def test_a_cut_link_is_retried_within_the_run(town, monkeypatch):
    monkeypatch.setattr(files, "CHUNK", 64 * 1024)
    with opened(town.a) as a:
        agent.run_once(a, files=False)  # the events first, through the direct link
        assert get_state("files") is None
        with FaultProxy(town.hub.port, cut_at=lambda n: 200_000 if n == 0 else None) as proxy:
            done = agent.run_once(a, url=f"http://127.0.0.1:{proxy.port}")["files"]
        assert proxy.stats["cuts"] == 1
        assert done["masters"] == 2 and "error" not in done
    assert all(_hub_masters(town).values())


def test_a_device_cannot_send_what_its_library_has_no_document_of(town):
    """B offers and puts A's master, then a made-up file: the hub asks for none of them and
    refuses the bytes; nothing is kept."""
    with opened(town.b) as b:
        agent.run_once(b, files=False)
        run = agent._Run(b, requests.Session(), town.hub.url, 10, link.Deadline(60))
        sha, size = next(iter(town.masters.items()))
        said = files._ask(b, run, {"offer": [[sha, "png", size], ["0" * 64, "png", 5]]})
        assert said == {"want": {}, "held": []}
        data = base64.b64encode(b"forged bytes").decode()
        with pytest.raises(protocol.SyncError) as err:
            files._ask(b, run, {"put": {"sha256": sha, "ext": "png", "offset": 0,
                                        "data": data}})
        assert "403" in str(err.value)
        with pytest.raises(protocol.SyncError):  # a name that is no checksum: refused
            files._ask(b, run, {"put": {"sha256": "../../x", "ext": "png", "offset": 0,
                                        "data": data}})
    assert not list(town.hub_dir.rglob("*.part")) and not any(_hub_masters(town).values())


def test_a_failure_of_the_files_never_fails_the_run(town, monkeypatch):
    def refused(ctx, run, question):
        raise protocol.SyncError("files_refused", "HTTP 404: an older hub")

    monkeypatch.setattr(files, "_ask", refused)
    with opened(town.a) as a:
        result = agent.run_once(a)
        assert result["pushed"] > 0 and result["files"]["error"].startswith("files_refused")
        assert get_state("last_error") is None
    with opened(town.hub_dir):
        assert DigitalDocument.get_or_none(DigitalDocument.id == town.doc) is not None
