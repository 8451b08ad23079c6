"""Import and export through core commands: duplicates, copies, bad records, rebuild."""

import io
from pathlib import Path

import pymarc
import pytest

from appliance.core import barcodes, exporter, importer, search, verify
from appliance.core.models import Bib, Event, Item

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "marc"


def _import(ctx, name, kind="marc"):
    with open(FIX / name, "rb") as fh:
        return importer.import_stream(ctx, kind, fh, batch=7)


def test_import_lc_records_and_duplicates_are_merged(cat_ctx):
    rep = _import(cat_ctx, "marc.dat")
    assert rep.created == 20 and rep.merged == 0 and not rep.skipped
    again = _import(cat_ctx, "marc.dat")
    assert again.created == 0 and again.merged == 20
    assert Bib.select().count() == 20
    # test.dat shares no ISBN with marc.dat; one.dat repeats test.dat's first record
    _import(cat_ctx, "test.dat")
    rep = _import(cat_ctx, "one.dat")
    assert rep.merged == 1 and Bib.select().count() == 30


def test_bad_records_are_reported_and_leave_nothing_half_written(cat_ctx):
    rep = _import(cat_ctx, "bad_records.mrc")
    # the two readable records carry neither ISBN nor control number: two records
    assert len(rep.skipped) == 6 and rep.created == 2
    assert Bib.select().count() == 2 and Event.select().count() == 2
    assert [p for p, _ in rep.skipped] == [2, 3, 4, 5, 6, 7]  # the final line break is no record


def _record_with_copies(barcodes, isbn="9786040000019", title="Truyện Kiều"):
    rec = pymarc.Record()
    rec.add_field(pymarc.Field(tag="020", indicators=pymarc.Indicators(" ", " "),
                               subfields=[pymarc.Subfield("a", isbn)]))
    rec.add_field(pymarc.Field(tag="245", indicators=pymarc.Indicators("1", "0"),
                               subfields=[pymarc.Subfield("a", title)]))
    for bc in barcodes:
        rec.add_field(pymarc.Field(tag="952", indicators=pymarc.Indicators(" ", " "), subfields=[
            pymarc.Subfield("a", "PY-DH01"), pymarc.Subfield("o", "895.9221 NG527D"),
            pymarc.Subfield("p", bc), pymarc.Subfield("y", "BK"),
            pymarc.Subfield("d", "2024-03-01")]))
    return rec.as_marc()


def test_copies_from_holdings_and_a_bad_copy_rolls_back_its_record(cat_ctx):
    data = (_record_with_copies(["DH0001", "DH0002"])
            + _record_with_copies(["DH0003", "bad barcode!"], isbn="9786040000026", title="Số đỏ")
            + _record_with_copies([""], isbn="9786040000033", title="Tắt đèn"))
    rep = importer.import_stream(cat_ctx, "marc", io.BytesIO(data))
    assert rep.created == 2 and len(rep.skipped) == 1 and rep.skipped[0][0] == 2
    assert "barcode" in rep.skipped[0][1]
    # the second record left neither its bib nor its first copy behind
    assert not Bib.select().where(Bib.title == "Số đỏ").exists()
    assert not Item.select().where(Item.barcode == "DH0003").exists()
    kieu = Bib.get(Bib.title == "Truyện Kiều")
    assert sorted(i.barcode for i in kieu.items) == ["DH0001", "DH0002"]
    assert {i.accession_date for i in kieu.items} == {"2024-03-01"}
    # a copy without a barcode gets a generated 14-digit one with a Luhn check digit
    (gen,) = Bib.get(Bib.title == "Tắt đèn").items
    assert len(gen.barcode) == 14 and barcodes.luhn_digit(gen.barcode[:-1]) == gen.barcode[-1]
    # importing again adds nothing
    rep = importer.import_stream(cat_ctx, "marc", io.BytesIO(_record_with_copies(["DH0001"])))
    assert rep.merged == 1 and rep.copies == 0 and Item.select().count() == 3


def test_csv_import_and_search_folding(cat_ctx):
    with open(FIX / "vn-catalogue.csv", "rb") as fh:
        rep = importer.import_stream(cat_ctx, "csv", fh)
    assert rep.created == 64 and not rep.skipped
    titles = [r["title"] for r in search.search("truyen kieu")["results"]]
    assert titles[0] == "Truyện Kiều"
    assert search.search("dong hoa")["total"] >= 1


def test_export_round_trips_what_was_imported(cat_ctx, tmp_path):
    data = _record_with_copies(["DH0001", "DH0002"])
    importer.import_stream(cat_ctx, "marc", io.BytesIO(data))
    with open(FIX / "marc.dat", "rb") as fh:
        importer.import_stream(cat_ctx, "marc", fh)
    before = {b.title: (exporter.bib_dict(b), sorted(i.barcode for i in b.items))
              for b in Bib.select()}
    for kind in ("marc", "marcxml"):
        buf = io.BytesIO()
        exporter.WRITERS[kind](buf, exporter.catalogue_records())
        buf.seek(0)
        out = [p for p in importer.READERS[kind](buf)]
        assert len(out) == 21
        for p in out:
            held, barcodes = before[p.bib["title"]]
            for key in ("authors", "isbn", "year", "language", "ddc", "subjects", "publisher",
                        "control_number", "series"):
                assert p.bib[key] == held[key], (kind, key)
            assert sorted(c["barcode"] for c in p.copies) == barcodes


def test_search_index_survives_rebuild(cat_ctx):
    with open(FIX / "vn-catalogue.csv", "rb") as fh:
        importer.import_stream(cat_ctx, "csv", fh)
    before = search.search("van hoc", per_page=100)
    search.backend(cat_ctx.db).clear_index(cat_ctx.db)
    verify.rebuild(cat_ctx)
    after = search.search("van hoc", per_page=100)
    assert before["total"] > 0 and after == before
    assert Event.select().count() == 64


def test_generated_barcodes_follow_the_highest_one(cat_ctx):
    data = (_record_with_copies(["", "", "A-1"], isbn="9786040000019")
            + _record_with_copies([""], isbn="9786040000026", title="Số đỏ"))
    rep = importer.import_stream(cat_ctx, "marc", io.BytesIO(data))
    assert rep.created == 2 and rep.copies == 4 and not rep.skipped
    generated = sorted(i.barcode for i in Item.select() if len(i.barcode) == 14)
    assert [g[5:13] for g in generated] == ["00000001", "00000002", "00000003"]
    assert all(barcodes.luhn_digit(g[:-1]) == g[-1] for g in generated)
    assert barcodes.next_barcode(cat_ctx)[5:13] == "00000004"


# --- no import file, however broken, ends in a traceback ---------------------------

def _batch_xml():
    return (FIX / "batch.xml").read_bytes()


def _iso(*titles):
    return b"".join(_record_with_copies([], isbn="", title=t) for t in titles)


BROKEN = {  # name: (format, bytes, records created, report lines at least)
    "marcxml with a tag attribute missing": (
        "marcxml", _batch_xml().replace(b'<marc:datafield tag="245"', b"<marc:datafield", 1),
        1, 1),
    "marcxml with a bad tag": (
        "marcxml", _batch_xml().replace(b'tag="245"', b'tag="2&#x1;5"', 1), 1, 1),
    "marcxml with a bad leader": (
        "marcxml", _batch_xml().replace(b"<marc:leader>00925njm", b"<marc:leader>zz", 1), 1, 1),
    "marcxml cut in the second record": (
        "marcxml", _batch_xml()[:_batch_xml().rindex(b"<marc:record>") + 200], 1, 1),
    "marcxml in Latin-1 that says UTF-8": (
        "marcxml", _batch_xml().replace(b"Charles", b"Ch\xe9rles"), 0, 1),
    "empty marcxml": ("marcxml", b"", 0, 1),
    "ISO 2709 given as marcxml": ("marcxml", _iso("Số đỏ"), 0, 1),
    "truncated ISO 2709": ("marc", _iso("Số đỏ", "Tắt đèn", "Chí Phèo")[:-30], 2, 1),
    "ISO 2709 with a bad leader": ("marc", _iso("Số đỏ")[:12] + b"zzzzz" + _iso("Số đỏ")[17:]
                                   + _iso("Tắt đèn"), 1, 1),
    # the same number of bytes, so that the leader's lengths still hold
    "ISO 2709 in Windows-1252": ("marc", _iso("Cafe noir", "Tắt đèn").replace(b"Cafe",
                                                                            b"Caf\xe9"), 1, 1),
    "empty ISO 2709": ("marc", b"", 0, 0),
    "MARCXML given as ISO 2709": ("marc", _batch_xml(), 0, 1),
    "binary noise": ("marc", bytes(range(256)) * 8, 0, 1),
    "CSV in UTF-16": ("csv", "title\nSố đỏ\n".encode("utf-16"), 0, 1),
    "CSV with NUL bytes and a huge cell": (
        "csv", b"title,notes\nS\x00o do,x\n" + b'Tat den,"' + b"x" * 200_000 + b'"\n', 1, 1),
    "empty CSV": ("csv", b"", 0, 1),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files_are_reported_record_by_record(cat_ctx, name):
    kind, data, created, lines = BROKEN[name]
    rep = importer.import_stream(cat_ctx, kind, io.BytesIO(data), batch=2)
    assert rep.created == created, rep.as_dict()
    assert len(rep.skipped) >= lines, rep.as_dict()
    # position 0 is the file itself (a CSV without the title column)
    assert all(isinstance(p, int) and p >= 0 and r for p, r in rep.skipped), rep.skipped
    assert Bib.select().count() == created


def test_web_import_reports_bad_records_and_imports_the_rest(client):
    from tests.conftest import staff_login

    token = staff_login(client, "thuthu", landing="/desk/catalogue/import/")
    before = Bib.select().count()

    def upload(kind, data, name):
        return client.post("/desk/catalogue/import/", data={
            "csrf_token": token, "format": kind, "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data")

    kind, data, created, _ = BROKEN["marcxml with a tag attribute missing"]
    page = upload(kind, data, "bad-tag.xml")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html[:500]
    assert "Biểu ghi 1: KeyError" in html and "1 biểu ghi mới" in html
    assert Bib.select().count() == before + 1
    cut = upload("marc", _iso("Số đỏ", "Tắt đèn", "Chí Phèo")[:-30], "cut.mrc")
    assert cut.status_code == 200 and "Biểu ghi 3:" in cut.get_data(as_text=True)
    no_title = upload("csv", b"name\nx\n", "x.csv").get_data(as_text=True)
    assert "Cả tệp: missing column(s): title" in no_title
    assert upload("mods", b"x", "x.xml").status_code == 400
    assert client.post("/desk/catalogue/import/", data={"csrf_token": token, "format": "csv"}
                       ).status_code == 400
    assert Bib.select().count() == before + 3
