"""The vn-catalogue CSV layout in; CSV cells made safe for a spreadsheet out."""

import csv
import io
import unicodedata

from .legacy_vn import convert_legacy, detect_legacy
from .marcfiles import Parsed, Skipped

CSV_COLUMNS = ("title", "authors", "publisher", "year", "isbn", "language", "ddc", "subjects",
               "series", "local_history")


def read_csv(fh):
    """Yield Parsed/Skipped for each row of the vn-catalogue CSV layout."""
    text = fh.read()
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = text.decode("cp1252", errors="replace")
    legacy = detect_legacy(text)
    if legacy:
        text = unicodedata.normalize("NFC", convert_legacy(text, legacy))
    rows = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("title",) if c not in (rows.fieldnames or [])]
    if missing:
        yield Skipped(0, f"missing column(s): {', '.join(missing)}")
        return
    for position, row in enumerate(rows, 1):
        bib = {k: (row.get(k) or "").strip() for k in CSV_COLUMNS if k in row}
        if not bib.get("title"):
            yield Skipped(position, "row has no title")
            continue
        bib["local_history"] = bib.get("local_history", "").lower() in ("yes", "1", "true")
        for key in ("authors", "subjects"):
            bib[key] = [v.strip() for v in bib.get(key, "").split(";") if v.strip()]
        bib = {k: (v if v != "" else None) for k, v in bib.items()}
        copies = []
        if row.get("barcode"):
            copies.append({"barcode": row["barcode"].strip(), "library": row.get("library"),
                           "call_number": row.get("call_number"), "location": None,
                           "item_type": row.get("item_type"), "accession_date": None})
        yield Parsed(position, bib, copies, "converted from " + legacy.upper() if legacy else None)


# A cell a spreadsheet would read as a formula (or as the start of one: a tab or CR
# lets Excel skip to what follows) gets a leading apostrophe: shown as typed, never run.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A CSV cell for people who open the file in Excel or LibreOffice."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_row(values):
    return [spreadsheet_safe(v) for v in values]
