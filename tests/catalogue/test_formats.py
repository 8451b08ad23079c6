"""MARC/MARCXML/CSV reading, legacy Vietnamese encodings and the record mapping."""

import io
from pathlib import Path

import pymarc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.core import catalogue_csv, importer, legacy_vn, marcfiles, marcmap
from appliance.core.fold import normalize

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "marc"
VIET = "Lịch sử Đông Hòa, người Phú Yên, khuỷu tay, Trường Sơn, quốc ngữ, Hồ Chí Minh"


def _read(name, kind="marc"):
    with open(FIX / name, "rb") as fh:
        return list(importer.READERS[kind](fh))


def test_known_legacy_strings():
    assert legacy_vn.from_vni("Xin chaøo caùc baïn") == "Xin chào các bạn"
    assert legacy_vn.from_tcvn3("LÞch sö §«ng Hßa") == "Lịch sử Đông Hòa"


@pytest.mark.parametrize("enc", ["tcvn3", "vni"])
def test_legacy_detected_and_converted(enc):
    legacy = getattr(legacy_vn, "to_" + enc)(VIET)
    assert legacy_vn.detect_legacy(legacy) == enc
    out = legacy_vn.convert_legacy(legacy, enc)
    # TCVN3 has no upper-case toned letters: compare case-folded
    assert normalize(out) == normalize(VIET)


@pytest.mark.parametrize("text", [VIET, "café crème", "Ångström", "plain ascii", "Tiếng Việt"])
def test_unicode_and_latin_text_is_left_alone(text):
    assert legacy_vn.detect_legacy(text) is None


VN_LOWER = "aàảãáạăằẳẵắặâầẩẫấậbcdđeèẻẽéẹêềểễếệghiìỉĩíịklmnoòỏõóọôồổỗốộơờởỡớợpqrstuùủũúụưừửữứựvxyỳỷỹýỵ"


@given(st.text(alphabet=VN_LOWER + " ", max_size=30))
def test_legacy_round_trip(text):
    assert legacy_vn.from_tcvn3(legacy_vn.to_tcvn3(text)) == text
    assert legacy_vn.from_vni(legacy_vn.to_vni(text)) == text


def test_reads_lc_records_utf8_and_marc8():
    parsed = _read("marc.dat")
    assert len(parsed) == 20 and all(isinstance(p, marcfiles.Parsed) for p in parsed)
    first = parsed[0].bib
    assert first["title"] == "The pragmatic programmer : from journeyman to master"
    assert first["authors"][:2] == ["Hunt, Andrew", "Thomas, David"]
    assert first["isbn"] == "020161622X" and first["year"] == 2000
    assert first["language"] == "eng" and first["ddc"] == "005.1"
    assert first["control_number"] == "11778504"
    m8 = _read("marc8.dat")[0]
    assert "De la solitude à la communauté" in m8.bib["notes"] or any(
        "communauté" in s for s in m8.record.get_fields("240")[0].get_subfields("a"))


def test_broken_records_are_reported_not_raised():
    out = _read("bad_records.mrc")
    skipped = [o for o in out if isinstance(o, marcfiles.Skipped)]
    parsed = [o for o in out if isinstance(o, marcfiles.Parsed)]
    assert len(parsed) == 2 and len(skipped) == 6
    assert all(s.reason for s in skipped)
    assert [s.position for s in skipped] == [2, 3, 4, 5, 6, 7]  # a final line break is none


def test_marcxml():
    out = _read("batch.xml", "marcxml") + _read("utf8.xml", "marcxml")
    assert [o.bib["title"] for o in out] == ["The Great Ray Charles", "The White House",
                                             "Zen Classics"]


def _vn_record(text_encoder=None, leader9="a"):
    # to_unicode=False: as_marc writes the text as single bytes (the legacy fonts' view)
    rec = pymarc.Record(to_unicode=leader9 == "a" and text_encoder is None, force_utf8=False)
    rec.leader = pymarc.Leader("00000nam " + leader9 + "2200000 a 4500")
    enc = text_encoder or (lambda s: s)
    rec.add_field(pymarc.Field(tag="001", data="VN0001"))
    rec.add_field(pymarc.Field(tag="245", indicators=pymarc.Indicators("1", "0"), subfields=[
        pymarc.Subfield("a", enc("Lịch sử Đông Hòa"))]))
    rec.add_field(pymarc.Field(tag="100", indicators=pymarc.Indicators("1", " "), subfields=[
        pymarc.Subfield("a", enc("Nguyễn Văn Thuý"))]))
    rec.add_field(pymarc.Field(tag="952", indicators=pymarc.Indicators(" ", " "), subfields=[
        pymarc.Subfield("a", "PY-DH01"), pymarc.Subfield("p", "DH000123"),
        pymarc.Subfield("o", "959.7 L302S"), pymarc.Subfield("y", "book")]))
    return rec


@pytest.mark.parametrize("enc,leader9", [("tcvn3", "a"), ("tcvn3", " "), ("vni", "a"),
                                         ("vni", " ")])
def test_legacy_iso2709_is_converted(enc, leader9):
    rec = _vn_record(getattr(legacy_vn, "to_" + enc), leader9)
    if leader9 == "a":
        # a UTF-8 leader over single-byte legacy text: build the bytes by hand
        rec.leader = pymarc.Leader("00000nam  2200000 a 4500")
        data = bytearray(rec.as_marc())
        data[9] = ord("a")
    else:
        data = rec.as_marc()
    (out,) = list(marcfiles.read_iso2709(io.BytesIO(bytes(data))))
    assert isinstance(out, marcfiles.Parsed), out
    assert normalize(out.bib["title"]) == normalize("Lịch sử Đông Hòa")
    assert normalize(out.bib["authors"][0]) == normalize("Nguyễn Văn Thuý")
    assert out.note == f"converted from {enc.upper()}"
    assert out.copies[0]["barcode"] == "DH000123"


def test_holdings_852_and_952():
    rec = _vn_record()
    rec.add_field(pymarc.Field(tag="852", indicators=pymarc.Indicators("8", " "), subfields=[
        pymarc.Subfield("a", "PY-DH02"), pymarc.Subfield("b", "Kho mở"),
        pymarc.Subfield("h", "959.7"), pymarc.Subfield("i", "L302S"),
        pymarc.Subfield("p", "DH000124")]))
    copies = marcmap.record_copies(rec)
    assert [c["barcode"] for c in copies] == ["DH000123", "DH000124"]
    assert copies[0]["call_number"] == "959.7 L302S" and copies[0]["library"] == "PY-DH01"
    assert copies[1]["call_number"] == "959.7 L302S" and copies[1]["location"] == "Kho mở"


def test_bib_to_record_round_trip_through_both_formats():
    for parsed in _read("marc.dat")[:5]:
        bib = dict(parsed.bib)
        copies = [{"barcode": "B1", "library": "PY-DH01", "call_number": "005.1 H",
                   "location": "Kho", "item_type": "book", "accession_date": "2024-01-02"}]
        rec = marcmap.bib_to_record(bib, copies)
        iso = io.BytesIO()
        marcfiles.write_iso2709(iso, [rec])
        xml = io.BytesIO()
        marcfiles.write_marcxml(xml, [rec])
        for kind, buf in (("marc", iso), ("marcxml", xml)):
            buf.seek(0)
            (again,) = list(importer.READERS[kind](buf))
            for key in ("title", "authors", "isbn", "year", "language", "ddc", "subjects",
                        "control_number", "publisher"):
                assert again.bib[key] == bib[key], (kind, key)
            assert again.copies[0]["barcode"] == "B1"
            assert again.copies[0]["call_number"] == "005.1 H"


def test_edited_record_exports_its_edits():
    bib = dict(_read("marc.dat")[0].bib)
    bib["title"] = "Lập trình thực dụng"
    bib["subjects"] = ["Lập trình -- Giáo trình"]
    rec = marcmap.bib_to_record(bib)
    again = marcmap.record_to_bib(rec)
    assert again["title"] == "Lập trình thực dụng"
    assert again["subjects"] == ["Lập trình -- Giáo trình"]
    assert again["isbn"] == bib["isbn"]


def test_csv_reader():
    out = _read("vn-catalogue.csv", "csv")
    assert len(out) == 64 and all(isinstance(o, marcfiles.Parsed) for o in out)
    assert out[0].bib["title"] == "Truyện Kiều" and out[0].bib["authors"] == ["Nguyễn Du"]
    assert out[0].bib["subjects"] == ["Thơ", "Văn học cổ điển Việt Nam"]
    bad = list(catalogue_csv.read_csv(io.StringIO("name,year\nX,2000\n")))
    assert isinstance(bad[0], marcfiles.Skipped)
