"""A restricted document never leaves its library: not over the link to the hub, not on
a USB stick. A real hub process and an enrolled branch; every batch the branch seals is
read before sealing (its plaintext), and the hub's database and data folder are
searched afterwards. A public document's metadata reaches the hub, as a control."""

import json

from appliance.core.digital import documents, jobs
from appliance.core.models import DigitalDocument, Event
from sync import agent, protocol, usb
from tests.digital import scans
from tests.digital.conftest import need_tesseract
from tests.sync.syncsupport import opened, running_town, seed

LIB = "PY-DH01"
SECRET_TEXT = ["Kế hoạch phòng thủ", "Đơn vị 2024"]


def test_no_byte_of_a_restricted_document_leaves_the_branch(tmp_path, monkeypatch):
    need_tesseract()
    sealed = []
    real_seal = protocol.seal_payload

    def spy(meta, events, **kw):  # what the branch is about to encrypt and send
        sealed.append(json.dumps(events, ensure_ascii=False))
        return real_seal(meta, events, **kw)

    monkeypatch.setattr(protocol, "seal_payload", spy)
    with running_town(tmp_path, (LIB,), admin=None) as town:
        hub_dir, branches = town.hub_dir, town.branches
        with opened(branches[LIB]) as ctx:
            seed(ctx, n_items=2, n_patrons=1)
            bib = Event.select().where(Event.kind == "bib.saved").first()
            bib_id = json.loads(bib.body)["id"]
            secret = scans.save_tiff(tmp_path / "secret.tif", [scans.page(SECRET_TEXT)])
            shown = scans.save_tiff(tmp_path / "shown.tif", [scans.page(["Địa chí"])])
            hidden = documents.attach(ctx, bib_id, [secret], access="restricted",
                                      title="Tài liệu mật đơn vị", collection="mat")
            public = documents.attach(ctx, bib_id, [shown], access="public")
            assert jobs.run_pending(ctx)[1] == 0  # its OCR text made, in its own chain
            page = documents.page_list(hidden)[0]
            documents.count_use(ctx, documents.get(hidden), "view")
            agent.run_once(ctx)
            usb.export(ctx, tmp_path / "stick.thuvien")
        markers = [hidden, page.sha256, "Tài liệu mật", "phòng thủ", "mat\""]
        assert sealed and any(public in s for s in sealed)  # the control went
        for text in sealed:
            assert not any(m in text for m in markers), text[:300]
        with opened(hub_dir):
            assert DigitalDocument.get_or_none(DigitalDocument.id == public) is not None
            assert DigitalDocument.get_or_none(DigitalDocument.id == hidden) is None
            for ev in Event.select():
                assert not any(m in ev.body for m in markers), ev.kind
        master = (branches[LIB] / "digital" / "masters").rglob(f"{page.sha256}.*")
        secret_bytes = next(master).read_bytes()
        for path in hub_dir.rglob("*"):
            if path.is_file() and path.stat().st_size >= 64:
                assert secret_bytes[:4096] not in path.read_bytes(), path
