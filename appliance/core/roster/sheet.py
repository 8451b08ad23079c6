"""A class list as a grid of cells: XLSX through openpyxl, CSV in whatever encoding a
school's computer saved it (UTF-8 with or without BOM, UTF-16, Windows-1258, or the
TCVN3/VNI font bytes of older Vietnamese software). A file that cannot be read is
refused whole with a reason; nothing is imported from it."""

import csv
import io
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime

from ..errors import N_, Invalid
from ..legacy_vn import convert_legacy, detect_legacy

MAX_BYTES = 20 * 1024 * 1024  # a class list of a whole school is well under 1 MB
MAX_UNPACKED = 100 * 1024 * 1024  # an XLSX is a zip: what it unpacks to is bounded too
MAX_ROWS = 10_000  # the largest school; more is not a class list
MAX_COLUMNS = 60


@dataclass
class Sheet:
    """The cells of a file: `rows[i]` is a list of cells (str, date, number or None);
    `formulas` holds the (row index, column index) of cells that were formulas."""
    name: str
    rows: list
    kind: str  # "xlsx" or "csv"
    encoding: str | None = None
    formulas: set = field(default_factory=set)
    others: list = field(default_factory=list)  # other sheets of the workbook with rows


def refuse(code, message, **params):
    raise Invalid(code, message, **params)


def read(data, filename=""):
    """The first sheet holding data of an XLSX file, or a CSV file, from its bytes."""
    if not data:
        refuse("file_empty", N_("The file is empty."))
    if len(data) > MAX_BYTES:
        refuse("file_too_big", N_("The file is larger than %(mb)s MB: this is not a class "
                                  "list."), mb=MAX_BYTES // (1024 * 1024))
    if data[:4] == b"PK\x03\x04":
        sheet = _xlsx(data)
    elif data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        refuse("old_excel", N_("This is an old Excel file (.xls). Open it in Excel or "
                               "LibreOffice and save it as .xlsx or CSV."))
    elif b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        refuse("not_a_table", N_("The file is neither XLSX nor CSV."))
    else:
        sheet = _csv(data)
    if not any(any(_filled(c) for c in row) for row in sheet.rows):
        refuse("file_empty", N_("The file holds no rows."))
    return sheet


def _filled(cell):
    return cell is not None and str(cell).strip() != ""


def _xlsx(data):
    import openpyxl

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if sum(i.file_size for i in z.infolist()) > MAX_UNPACKED:
                refuse("file_too_big", N_("The file unpacks to more than %(mb)s MB: this is "
                                          "not a class list."), mb=MAX_UNPACKED // 1048576)
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Invalid:
        raise
    except Exception:  # a zip that is not a workbook, a damaged one: openpyxl says many ways
        refuse("not_xlsx", N_("The file cannot be read as an Excel workbook (.xlsx)."))
    try:
        found = None
        for ws in book.worksheets:
            if found is None:
                sheet = _worksheet(ws)
                found = sheet if sheet.rows else None
            elif _has_rows(ws):  # said, not guessed at: one sheet is one list
                found.others.append(ws.title)
        return found or Sheet(book.worksheets[0].title if book.worksheets else "", [], "xlsx")
    finally:
        book.close()


def _has_rows(ws):
    return any(any(_filled(v) for v in row) for row in ws.iter_rows(max_row=HEADER_ROWS,
                                                                    values_only=True))


HEADER_ROWS = 25


def _worksheet(ws):
    rows: list[list] = []
    formulas: set[tuple[int, int]] = set()
    for r, row in enumerate(ws.iter_rows(values_only=False)):
        if r >= MAX_ROWS + 50:  # title rows above the header, then at most MAX_ROWS
            refuse("too_many_rows", N_("The file has more than %(max)s rows. Split it "
                                       "(a class or a grade a file)."), max=MAX_ROWS)
        cells = []
        for c, cell in enumerate(row[:MAX_COLUMNS]):
            value = getattr(cell, "value", None)
            if getattr(cell, "data_type", None) == "f" or (
                    isinstance(value, str) and value.startswith("=")):
                formulas.add((len(rows), c))
                value = None
            cells.append(_cell(value))
        rows.append(cells)
    while rows and not any(_filled(c) for c in rows[-1]):
        rows.pop()
    return Sheet(ws.title, rows, "xlsx", formulas=formulas)


def _cell(value):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value).strip()
    return value


def decode(data):
    """(text, encoding) of a CSV file's bytes: a BOM says it; else UTF-8 if the bytes are
    UTF-8, else Windows-1258 (Vietnamese Windows, tone marks as combining characters);
    TCVN3 or VNI font bytes are recognised and converted. NFC either way."""
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"),
                          (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            try:
                return unicodedata.normalize("NFC", data.decode(encoding)), encoding
            except UnicodeDecodeError:
                refuse("bad_encoding", N_("The file says it is %(encoding)s but is not."),
                       encoding=encoding.upper())
    try:
        return unicodedata.normalize("NFC", data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    view = data.decode("cp1252", errors="replace")  # how legacy_vn reads font bytes
    legacy = detect_legacy(view)
    if legacy:
        return unicodedata.normalize("NFC", convert_legacy(view, legacy)), legacy
    try:
        return unicodedata.normalize("NFC", data.decode("cp1258")), "cp1258"
    except UnicodeDecodeError:
        pass
    refuse("bad_encoding", N_("The file's text is in an encoding this software does not "
                              "know. Save it as CSV UTF-8 or as .xlsx."))


def _csv(data):
    text, encoding = decode(data)
    if text.count("\n") > MAX_ROWS + 50:  # said before any row is parsed
        refuse("too_many_rows", N_("The file has more than %(max)s rows. Split it "
                                   "(a class or a grade a file)."), max=MAX_ROWS)
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows: list[list] = []
    formulas: set[tuple[int, int]] = set()
    try:
        for r, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter)):
            if r >= MAX_ROWS + 50:
                refuse("too_many_rows", N_("The file has more than %(max)s rows. Split it "
                                           "(a class or a grade a file)."), max=MAX_ROWS)
            cells: list[str | None] = []
            for c, text in enumerate(row[:MAX_COLUMNS]):
                text = text.strip()
                if text.startswith("="):  # a formula typed into a CSV is not a value
                    formulas.add((r, c))
                    text = ""
                cells.append(text or None)
            rows.append(cells)
    except csv.Error:
        refuse("not_a_table", N_("The file is neither XLSX nor CSV."))
    while rows and not any(_filled(c) for c in rows[-1]):
        rows.pop()
    return Sheet("", rows, "csv", encoding=encoding, formulas=formulas)


def as_text(cell):
    """A cell as text: whole numbers without ".0" (a phone number Excel kept as a
    number), dates as dd/mm/yyyy."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return str(cell)
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, date):
        return cell.strftime("%d/%m/%Y")
    return str(cell).strip()
