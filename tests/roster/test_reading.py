"""Class lists as schools save them are read, and files that are not one are refused
whole with a reason, nothing changed."""

import io
import unicodedata
import zipfile
from datetime import date

import openpyxl
import pytest

from appliance.core.errors import Invalid
from appliance.core.legacy_vn import to_tcvn3
from appliance.core.models import Patron
from appliance.core.roster import columns, importing, rows, sheet
from tests.roster import classlists as CL


def test_vietnamese_headers_under_title_rows_are_recognised():
    grid = sheet.read(CL.xlsx(CL.pupils(3)))
    header, mapping = columns.find_header(grid.rows)
    assert header == 2
    assert mapping == {"name": 1, "birth_date": 2, "school_class": 3, "gender": 4,
                       "guardian": 5, "phone": 6}


@pytest.mark.parametrize("header, field", [
    ("Họ và tên", "name"), ("HỌ VÀ TÊN HỌC SINH", "name"), ("Full name", "name"),
    ("Họ đệm", "family"), ("Tên", "given"), ("Ngày tháng năm sinh", "birth_date"),
    ("Ngày sinh (dd/mm/yyyy)", "birth_date"), ("Lớp", "school_class"),
    ("Giới tính", "gender"), ("Họ tên phụ huynh", "guardian"), ("Họ tên cha/mẹ", "guardian"),
    ("Số điện thoại", "phone"), ("SĐT phụ huynh", "phone"), ("Điện thoại liên hệ", "phone"),
    ("Số thẻ", "card"), ("STT", None), ("Ghi chú", None),
    # a pupil's own number or address is never taken as the contact
    ("Số điện thoại học sinh", None), ("SĐT của em", None), ("Email", None),
    ("SĐT cha mẹ học sinh", "phone"), ("Email phụ huynh", "guardian_email"),
    ("Thư điện tử của cha mẹ", "guardian_email"), ("E-mail học sinh", None)])
def test_header_words(header, field):
    assert columns.field_of(header) == field


@pytest.mark.parametrize("cell, expected", [
    (date(2013, 3, 5), date(2013, 3, 5)), ("05/03/2013", date(2013, 3, 5)),
    ("5/3/2013", date(2013, 3, 5)), ("05-03-2013", date(2013, 3, 5)),
    ("05.03.2013", date(2013, 3, 5)), ("2013-03-05", date(2013, 3, 5)),
    (41338, date(2013, 3, 5)), ("31/02/2013", None), ("05/03/13", None), ("mai", None),
    (2013, None)])
def test_dates_as_excel_and_people_write_them(cell, expected):
    assert rows.parse_date(cell) == expected


@pytest.mark.parametrize("text, expected", [
    ("0912345678", "0912345678"), ("912345678", "0912345678"), ("+84 912 345 678",
                                                                 "0912345678"),
    ("84912345678", "0912345678"), ("0257.3822.123", "02573822123"), ("12345", None),
    ("09123456789012", None)])
def test_phone_numbers(text, expected):
    assert rows.phone_number(text) == expected


def _people(data):
    grid, header, mapping = importing.read(data)
    start = header + 1
    return [(r[mapping["name"]], r[mapping["birth_date"]]) for r in grid.rows[start:]]


TONES = "\u0300\u0301\u0303\u0309\u0323"


def windows_1258(text):
    """Text as Vietnamese Windows saves it: letters with their vowel marks where the code
    page has them, tone marks as combining characters after them."""
    out = b""
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            tone = "".join(c for c in parts if c in TONES)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
            out += base.encode("cp1258") + tone.encode("cp1258")
    return out


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1258"])
def test_csv_in_the_encodings_schools_save(encoding):
    text = CL.csv_text([[1, "Lê Thị Ngọc Ánh", "05/03/2013", "6A", "Nữ", "Đặng Văn Dũng",
                         "0912345678"]], sep=";")
    data = windows_1258(text) if encoding == "cp1258" else text.encode(encoding)
    assert _people(data) == [("Lê Thị Ngọc Ánh", "05/03/2013")]


def test_csv_in_old_tcvn3_font_bytes_is_converted():
    text = CL.csv_text([[1, "Nguyễn Thị Hoà", "05/03/2013", "6A", "Nữ", "Đặng Văn Dũng",
                         "0912345678"]])
    data = to_tcvn3(text).encode("latin-1")
    assert _people(data) == [("Nguyễn Thị Hoà", "05/03/2013")]


def _refused(data, code):
    with pytest.raises(Invalid) as e:
        sheet.read(data)
    assert e.value.code == code


def test_files_that_are_no_class_list_are_refused(ctx):
    before = Patron.select().count()
    _refused(b"", "file_empty")
    _refused(b"\n\n;;\n", "file_empty")
    _refused(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "old_excel")
    _refused(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "not_a_table")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    _refused(zipped.getvalue(), "not_xlsx")
    _refused(b"PK\x03\x04broken", "not_xlsx")
    _refused(b"\xef\xbb\xbfH\xc3 bad", "bad_encoding")  # a UTF-8 BOM, then not UTF-8
    with pytest.raises(Invalid) as e:
        importing.run(ctx, b"\x81\x8d\x8f\x90\x9d" * 20)
    assert e.value.code == "bad_encoding"
    assert Patron.select().count() == before


def test_fifty_thousand_rows_are_refused(ctx):
    big = ("Họ và tên,Ngày sinh,Lớp\n" + "Lê Văn An,05/03/2013,6A\n" * 50_000).encode()
    with pytest.raises(Invalid) as e:
        importing.run(ctx, big)
    assert e.value.code == "too_many_rows"
    book = openpyxl.Workbook(write_only=True)
    ws = book.create_sheet()
    ws.append(["Họ và tên", "Ngày sinh", "Lớp"])
    for _ in range(10_100):
        ws.append(["Lê Văn An", "05/03/2013", "6A"])
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(Invalid) as e:
        importing.run(ctx, out.getvalue())
    assert e.value.code == "too_many_rows"


def test_formulas_are_never_taken_as_values(ctx):
    rows_ = CL.pupils(2)
    rows_[1][1] = '=HYPERLINK("http://x","Bé")'
    p = importing.preview(ctx, CL.xlsx(rows_), consent=True)
    assert [r.ok for r in p.rows] == [True, False]
    assert p.rows[1].problems[0][0] == "formula"
    assert p.rows[1].problems[0][2] == {"cell": "B5"}
    text = CL.csv_text([[1, "=1+2", "05/03/2013", "6A", "", "Cha", ""]])
    p = importing.preview(ctx, text.encode(), consent=True)
    assert p.rows[0].problems[0][0] == "formula"


def test_a_list_without_a_date_column_says_what_to_map(ctx):
    data = CL.csv_text([[1, "An", "6A"]], header=["STT", "Họ và tên", "Lớp"]).encode()
    p = importing.preview(ctx, data)
    assert [code for code, _ in p.missing] == ["map_birth_date"]
    with pytest.raises(Invalid):
        importing.run(ctx, data)


def test_a_workbook_of_several_class_sheets_says_what_it_did_not_read(ctx):
    book = openpyxl.Workbook()
    first = book.active
    first.title = "6A"
    for row in [CL.HEADER, *CL.pupils(2)]:
        first.append(row)
    book.create_sheet("Trống")
    other = book.create_sheet("6B")
    for row in [CL.HEADER, *CL.pupils(2, "6B", start=10)]:
        other.append(row)
    out = io.BytesIO()
    book.save(out)
    p = importing.preview(ctx, out.getvalue(), consent=True)
    assert (p.sheet_name, p.others, len(p.good)) == ("6A", ["6B"], 2)
