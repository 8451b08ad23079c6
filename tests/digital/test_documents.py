"""Digital documents: import from files and folders, masters under their checksums,
verify and backups, the queue of derivatives and OCR, the folded search inside OCR
text, restricted documents in the local chain, MARC marks."""

import json

import pytest

from appliance.cli import main
from appliance.core import authority, events, verify
from appliance.core.digital import documents, jobs, store, textindex
from appliance.core.errors import Invalid
from appliance.core.models import DigitalJob, DigitalPage, Event
from tests.digital import scans
from tests.digital.conftest import PAGE_TWO, scanned_book
from tests.factories import make_library, seed


@pytest.fixture
def branch(data_dir):
    ctx = make_library(data_dir)
    ctx.bibs = seed(ctx)
    yield ctx
    ctx.close()


def test_import_folder_keeps_masters_by_checksum_verify_and_backup(branch, tmp_path, capsys):
    folder = tmp_path / "scans"
    folder.mkdir()
    scans.page(["p1"]).save(folder / "p1.png")
    scans.page(["p10"]).convert("RGB").save(folder / "p10.jpg")
    scans.save_tiff(folder / "p2.tif", [scans.page(["p2a"]), scans.page(["p2b"])])
    (folder / "notes.txt").write_text("not a scan")
    data = str(branch.data_dir)
    assert main(["digital", "import", "--data", data, "--bib", branch.bibs[3].id,
                 str(folder), "--access", "onsite"]) == 0
    out = capsys.readouterr()
    assert "4 pages" in out.out and "keeping masters" in out.err  # the progress bar
    doc = documents.of_bib(branch.bibs[3].id)[0]
    rows = documents.page_list(doc.id)
    # natural page order: p1, p2 (two frames), p10
    assert [(r.n, r.ext, r.frame) for r in rows] == [(1, "png", 0), (2, "tif", 0),
                                                     (3, "tif", 1), (4, "jpg", 0)]
    master = store.master_path(branch.data_dir, rows[1].sha256, "tif")
    assert master.exists() and store.file_sha256(master) == rows[1].sha256 == rows[2].sha256
    assert main(["verify", "--data", data]) == 0
    # a backup keeps the masters beside it; a restore brings a lost one back
    backup = tmp_path / "b.db"
    assert main(["backup", "--data", data, "--to", str(backup)]) == 0
    assert (tmp_path / "b.db.masters" / master.relative_to(
        store.root(branch.data_dir) / "masters")).exists()
    master.write_bytes(b"damaged")
    assert main(["verify", "--data", data]) == 1
    assert "does not match its checksum" in capsys.readouterr().out
    master.unlink()
    assert main(["verify", "--data", data]) == 1
    assert main(["restore", "--data", data, "--from", str(backup)]) == 0
    assert store.file_sha256(master) == rows[1].sha256


def test_import_refuses_what_is_not_a_scan(branch, tmp_path):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"\xff\xd8 not really")
    with pytest.raises(Invalid) as e:
        documents.attach(branch, branch.bibs[0].id, [bad])
    assert e.value.code == "not_a_scan"
    with pytest.raises(Invalid):
        documents.attach(branch, branch.bibs[0].id, [bad], access="secret")
    assert not DigitalPage.select().exists()


def test_pdf_pages_rendered_in_the_background(branch, tmp_path):
    pdf = scans.save_pdf(tmp_path / "b.pdf", [scans.page(["một"]), scans.page(["hai"]),
                                              scans.page(["ba"])])
    doc_id = documents.attach(branch, branch.bibs[0].id, [pdf])
    rows = documents.page_list(doc_id)
    assert [(r.ext, r.frame) for r in rows] == [("pdf", 0), ("pdf", 1), ("pdf", 2)]
    assert not (store.derived_dir(branch.data_dir, rows[0].id) / "web.jpg").exists()
    DigitalJob.delete().where(DigitalJob.kind == "ocr").execute()
    # a process that stopped mid-job leaves it running: the next one takes it up again
    DigitalJob.update(state="running").where(DigitalJob.page == rows[0].id).execute()
    assert jobs.run_pending(branch) == (2, 0)
    assert jobs.recover() == 1
    assert jobs.run_pending(branch) == (1, 0)
    for row in rows:
        folder = store.derived_dir(branch.data_dir, row.id)
        assert {"full.jpg", "web.jpg", "thumb.jpg"} <= {p.name for p in folder.iterdir()}


def test_ocr_text_found_folded_on_the_right_page_on_both_databases(dctx, tmp_path):
    doc_id = scanned_book(dctx, tmp_path)
    words = textindex.query_words("lich su dong hoa")
    hits = textindex.matching_pages(dctx.db, words)
    assert [page for page, _doc in hits] == [f"{doc_id}-0002"]
    text = documents.texts(doc_id)[f"{doc_id}-0002"]
    snippet, marked = textindex.snippet(text, words)
    assert "Lịch sử Đông Hòa" in snippet and "Đông" in marked
    assert textindex.matching_pages(dctx.db, textindex.query_words("nói đầu")) == [
        (f"{doc_id}-0001", doc_id)]
    assert verify.verify(dctx) == []  # the text is in the log: a rebuild holds it too


def test_restricted_document_stays_in_the_local_chain(branch, tmp_path):
    doc_id = scanned_book(branch, tmp_path, access="restricted", ocr=False)
    kinds = {(e.origin, e.kind) for e in Event.select().where(Event.kind.startswith("digital"))}
    assert kinds == {(branch.origin + events.LOCAL_SUFFIX, "digital.saved")}
    assert all(e.kind != "digital.saved" for e in events.since(branch.origin, 0, 10000))
    # and it may not become anything else, nor anything else become restricted
    with pytest.raises(Invalid):
        documents.update(branch, doc_id, access="public")
    ev = Event.get(Event.kind == "digital.saved")
    d = events.to_dict(ev)
    d["origin"] = branch.origin
    refusal = authority.check(d, branch.library, lambda *a: None)
    assert refusal is not None and refusal.code == "restricted_sent"


def test_marks_travel_in_marc_910(branch):
    from appliance.core import catalogue, marcmap

    bib = catalogue.save_bib(branch, {"title": "Địa chí Tuy Hòa", "local_history": True,
                                      "rare": True})
    record = marcmap.bib_to_record(catalogue.bib_dict(bib) if hasattr(
        catalogue, "bib_dict") else bib.__data__)
    assert [f.get_subfields("a") for f in record.get_fields("910")] == [["local-history",
                                                                         "rare"]]
    assert marcmap.record_to_bib(record)["rare"] is True
    assert "special_value" not in marcmap.record_to_bib(record)


def test_status_cli(branch, tmp_path, capsys):
    scanned_book(branch, tmp_path, ocr=False)
    assert main(["digital", "status", "--data", str(branch.data_dir)]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 1


def test_page_text_kept_as_written(dctx, tmp_path):
    doc_id = scanned_book(dctx, tmp_path)
    assert PAGE_TWO[0] in documents.texts(doc_id)[f"{doc_id}-0002"]


def test_migration_14_brings_a_schema_13_library_level(branch):
    """A library of schema 13 (no digital tables, no rare or special marks) opens at 14
    with its records whole and a state that equals a rebuild."""
    import sqlite3

    from appliance.core import db as dbmod
    from appliance.core.context import Context

    path = branch.data_dir / "thuvien.db"
    branch.close()
    con = sqlite3.connect(path)
    for table in ("digital_document", "digital_page", "digital_text", "digital_use",
                  "digital_job", "upload_session", "digital_fts"):
        con.execute(f"DROP TABLE {table}")
    con.execute("DROP INDEX bib_marked")  # (on the marks: schema 32)
    con.execute("ALTER TABLE bib DROP COLUMN rare")
    con.execute("ALTER TABLE bib DROP COLUMN special_value")
    con.execute("UPDATE setting SET value = '13' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    ctx = Context.open(branch.data_dir)
    try:
        assert dbmod.schema_version(ctx.db) == dbmod.SCHEMA_VERSION >= 18
        assert verify.verify(ctx) == []
        from appliance.core.models import Bib
        assert Bib.select().where(~Bib.rare).count() == 5
    finally:
        ctx.close()
