"""Import a file of records into the catalogue through core commands: duplicates
merged, copies added, each record all or nothing, a report line for every bad one."""

import re
from dataclasses import dataclass, field

from .barcodes import next_barcode
from .catalogue_csv import read_csv
from .marcfiles import Skipped, read_iso2709, read_marcxml
from .xmltext import xml_safe_values

READERS = {"marc": read_iso2709, "marcxml": read_marcxml, "csv": read_csv}

KOHA_TYPES = {"BK": "book", "BOOK": "book", "SER": "periodical", "CR": "periodical",
              "REF": "reference", "VM": "av", "AV": "av", "MU": "av", "MP": "map",
              "MAP": "map", "MS": "manuscript"}


@dataclass
class ImportReport:
    created: int = 0
    merged: int = 0
    copies: int = 0
    skipped: list = field(default_factory=list)  # (position, reason)
    notes: list = field(default_factory=list)    # (position, note)

    def as_dict(self):
        return {"created": self.created, "merged": self.merged, "copies": self.copies,
                "skipped": [{"position": p, "reason": r} for p, r in self.skipped],
                "notes": [{"position": p, "note": n} for p, n in self.notes]}


def find_duplicate(bib):
    """An existing record with the same ISBN or control number, or None."""
    from .catalogue import normalise_isbn
    from .models import Bib

    db = Bib._meta.database
    try:
        isbn = normalise_isbn(bib.get("isbn")) if bib.get("isbn") else None
    except Exception:
        isbn = None
    for column, value in (("isbn", isbn), ("control_number", bib.get("control_number"))):
        if not value:
            continue
        # plain SQL: this runs once per imported record
        row = db.execute_sql(f"SELECT id FROM bib WHERE {column} = %s AND NOT deleted "
                             "AND title <> '' LIMIT 1".replace("%s", db.param), (value,)
                             ).fetchone()
        if row:
            return Bib.get_by_id(row[0])
    return None


def _merged(existing, bib):
    """Fill what the held record lacks; lists are united; held values win."""
    data = {"id": existing.id}
    for key, value in bib.items():
        held = getattr(existing, key, None)
        if isinstance(value, list):
            union = list(dict.fromkeys([*(held or []), *value]))
            if union != (held or []):
                data[key] = union
        elif value not in (None, "") and held in (None, "", False):
            data[key] = value
    return data


def _copy_data(ctx, bib_id, copy):
    from .catalogue import ITEM_TYPES

    item_type = (copy.get("item_type") or "book").strip()
    item_type = item_type if item_type in ITEM_TYPES else KOHA_TYPES.get(item_type.upper(),
                                                                         "book")
    data = {"bib": bib_id, "barcode": copy.get("barcode") or next_barcode(ctx),
            "item_type": item_type, "location": copy.get("location"),
            "call_number": copy.get("call_number"), "library": copy.get("library") or ctx.library}
    date = copy.get("accession_date") or ""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        data["accession_date"] = date
    return data


def import_one(ctx, parsed):
    """Save one record and its copies; 'created' or 'merged'. Raises on bad data."""
    from . import catalogue
    from .models import Item

    existing = find_duplicate(parsed.bib)
    if existing:
        bib = catalogue.save_bib(ctx, _merged(existing, parsed.bib))
    else:
        bib = catalogue.save_bib(ctx, parsed.bib)
    added = 0
    for copy in parsed.copies:
        data = _copy_data(ctx, bib.id, copy)
        held = Item.get_or_none((Item.library == data["library"])
                                & (Item.barcode == data["barcode"]))
        if held is not None and held.bib_id == bib.id:
            continue  # the same copy imported again
        catalogue.save_item(ctx, data)
        added += 1
    return ("merged" if existing else "created"), added


def _reason(exc):
    from .errors import DomainError

    if isinstance(exc, DomainError):
        params = getattr(exc, "params", {}) or {}
        try:
            return exc.message % params
        except (KeyError, TypeError, ValueError):
            return exc.message
    return f"{type(exc).__name__}: {exc}"


def import_stream(ctx, kind, fh, progress=None, batch=500):
    """Import every record of `fh`; each record is all or nothing, a batch is one
    transaction (one fsync per batch keeps a Pi above a thousand records a second)."""
    from .events import writing

    report = ImportReport()
    items = _guarded(READERS[kind](fh))
    done = False
    while not done:
        with writing(ctx):
            for _ in range(batch):
                entry = next(items, None)
                if entry is None:
                    done = True
                    break
                _import_entry(ctx, entry, report)
                if progress:
                    progress(entry.position, report)
    return report


def _guarded(entries):
    """The reader's entries; should the reader itself fail on a file broken in a way
    nobody foresaw, the rest of the file becomes one report line, not a traceback."""
    position = 0
    try:
        for entry in entries:
            position = entry.position
            yield entry
    except Exception as exc:
        yield Skipped(position + 1, f"the rest of the file is unreadable: "
                                    f"{type(exc).__name__}: {exc}")


def _import_entry(ctx, entry, report):
    if isinstance(entry, Skipped):
        report.skipped.append((entry.position, entry.reason))
        return
    entry.bib = xml_safe_values(entry.bib)  # CSV cells and MARC alike
    entry.copies = xml_safe_values(entry.copies)
    try:
        _set_aside_bad_isbn(entry, report)
        with ctx.db.atomic():  # a savepoint: a bad record leaves nothing behind
            outcome, added = import_one(ctx, entry)
    except Exception as exc:
        report.skipped.append((entry.position, _reason(exc)))
        return
    setattr(report, outcome, getattr(report, outcome) + 1)
    report.copies += added
    if entry.note:
        report.notes.append((entry.position, entry.note))


def _set_aside_bad_isbn(entry, report):
    """A wrong ISBN check digit should not cost the library the record: keep it as a note."""
    from .catalogue import normalise_isbn
    from .errors import DomainError

    try:
        normalise_isbn(entry.bib.get("isbn"))
    except DomainError:
        bad = entry.bib.pop("isbn")
        entry.bib["notes"] = "\n".join(filter(None, [entry.bib.get("notes"), f"ISBN {bad}"]))
        report.notes.append((entry.position, f"invalid ISBN {bad} kept as a note"))
