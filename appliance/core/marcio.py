"""MARC21 (ISO 2709, MARCXML) and CSV in and out, as pure functions.

Reading yields `Parsed(bib, copies, note)` or `Skipped(position, reason)`; the
import command (appliance.core.importer via the CLI) turns them into core
commands. Vietnamese catalogues made before Unicode were typed in TCVN3 (ABC)
or VNI fonts: such bytes are detected here and converted, or the record is
reported.
"""

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

import pymarc
from pymarc import Field, Indicators, Leader, Record, Subfield

from .fold import TONES

# --- legacy Vietnamese encodings -------------------------------------------

_TONED = {  # unicode base letter -> its five toned forms (grave hook tilde acute dot)
    base: [unicodedata.normalize("NFC", base + t) for t in TONES] for base in "aăâeêioôơuưy"
}
# TCVN3 (ABC): one byte per lower-case letter, read as Latin-1 characters.
_TCVN3_TONED = {
    "a": "µ¶·¸¹", "ă": "»¼½¾Æ", "â": "ÇÈÉÊË", "e": "ÌÎÏÐÑ", "ê": "ÒÓÔÕÖ", "i": "×ØÜÝÞ",
    "o": "ßáâãä", "ô": "åæçèé", "ơ": "êëìíî", "u": "ïñòóô", "ư": "õö÷øù", "y": "úûüýþ",
}
_TCVN3_PLAIN = {"ă": "¨", "â": "©", "ê": "ª", "ô": "«", "ơ": "¬", "ư": "\xad", "đ": "®",
                "Ă": "¡", "Â": "¢", "Ê": "£", "Ô": "¤", "Ơ": "¥", "Ư": "¦", "Đ": "§"}
# VNI: a base letter followed by one mark character (cp1252 view of the bytes).
_VNI_TONE = "øûõùï"        # grave hook tilde acute dot
_VNI_CIRC_TONE = "àåãáä"   # circumflex + tone
_VNI_BREVE_TONE = "èúüéë"  # breve + tone
_VNI_I = "ìæóíò"           # i with a tone is one character
_VNI_SINGLE = {"ơ": "ô", "ư": "ö", "đ": "ñ"}


def _tcvn3_table():
    table = {}
    for base, codes in _TCVN3_TONED.items():
        for uni, code in zip(_TONED[base], codes, strict=True):
            table[code] = uni
    table.update({code: uni for uni, code in _TCVN3_PLAIN.items()})
    return table


def _vni_pairs():
    """(vni sequence, unicode letter) for lower case; upper case is derived."""
    pairs = [(code, uni) for uni, code in _VNI_SINGLE.items()]
    pairs += list(zip(_VNI_I, _TONED["i"], strict=True))
    for base in "aeouy":
        marks = _VNI_TONE.replace("ï", "î") if base == "y" else _VNI_TONE
        pairs += [(base + m, uni) for m, uni in zip(marks, _TONED[base], strict=True)]
    for base, uni_base in (("a", "â"), ("e", "ê"), ("o", "ô")):
        pairs.append((base + "â", uni_base))
        pairs += [(base + m, uni) for m, uni in zip(_VNI_CIRC_TONE, _TONED[uni_base], strict=True)]
    pairs.append(("aê", "ă"))
    pairs += [("a" + m, uni) for m, uni in zip(_VNI_BREVE_TONE, _TONED["ă"], strict=True)]
    for code, uni_base in (("ô", "ơ"), ("ö", "ư")):
        pairs += [(code + m, uni) for m, uni in zip(_VNI_TONE, _TONED[uni_base], strict=True)]
    return pairs + [(v.upper(), u.upper()) for v, u in pairs]


TCVN3_TO_UNICODE = _tcvn3_table()
VNI_TO_UNICODE = dict(_vni_pairs())
_TCVN3_TRANS = str.maketrans(TCVN3_TO_UNICODE)
_VNI_RE = re.compile("|".join(sorted(map(re.escape, VNI_TO_UNICODE), key=len, reverse=True)))
UNICODE_TO_TCVN3 = {u: c for c, u in TCVN3_TO_UNICODE.items()}
UNICODE_TO_VNI = {u: v for v, u in VNI_TO_UNICODE.items()}


def from_tcvn3(text):
    return text.translate(_TCVN3_TRANS)


def from_vni(text):
    return _VNI_RE.sub(lambda m: VNI_TO_UNICODE[m.group(0)], text)


def to_tcvn3(text):
    """Unicode → TCVN3 (as Latin-1 characters); upper-case toned letters lose case."""
    text = unicodedata.normalize("NFC", text)
    return "".join(UNICODE_TO_TCVN3.get(c, UNICODE_TO_TCVN3.get(c.lower(), c)) for c in text)


def to_vni(text):
    return "".join(UNICODE_TO_VNI.get(c, c) for c in unicodedata.normalize("NFC", text))


_VN_LETTERS = set("abcdefghijklmnopqrstuvwxyzđ" + "".join(sum(_TONED.values(), [])) + "ăâêôơư")
_WORD_RE = re.compile(r"[^\s\-/.,:;()\[\]\"'!?=+&*0-9]+")


def _score(text):
    """(words that read as Vietnamese/Latin, words with stray symbols)."""
    good = bad = 0
    for word in _WORD_RE.findall(text.lower()):
        if all(c in _VN_LETTERS for c in word):
            tones = sum(1 for c in unicodedata.normalize("NFD", word) if c in TONES)
            good, bad = (good + 1, bad) if tones <= 1 else (good, bad + 1)
        elif any(ord(c) > 0x7F for c in word):
            bad += 1
    return good, bad


def detect_legacy(text):
    """'tcvn3', 'vni' or None: which conversion turns stray symbols into Vietnamese."""
    if text.isascii():
        return None
    good, bad = _score(text)
    if bad == 0:
        return None
    best, best_score = None, (bad, -good)
    for name, convert in (("vni", from_vni), ("tcvn3", from_tcvn3)):
        g, b = _score(convert(text))
        if (b, -g) < best_score:
            best, best_score = name, (b, -g)
    return best


def convert_legacy(text, encoding):
    return {"tcvn3": from_tcvn3, "vni": from_vni}[encoding](text) if encoding else text


# --- MARC record <-> catalogue record ---------------------------------------

_TRAILING = " /:;,.="


def _clean(value):
    value = re.sub(r"\s+", " ", value or "").strip(_TRAILING).strip()
    # ISBD closing bracket/period after initials ("Smith, J.") is part of the name
    return value


def _subs(record, tags, codes):
    out = []
    for f in record.get_fields(*tags):
        out += [v for v in f.get_subfields(*codes) if v and v.strip()]
    return out


def _first(record, tags, codes):
    values = _subs(record, tags, codes)
    return _clean(values[0]) if values else None


def _isbn(record):
    for value in _subs(record, ["020"], ["a"]):
        m = re.search(r"[0-9][0-9\-]{8,16}[0-9Xx]", value)
        if m:
            return m.group(0).replace("-", "").upper()
    return None


def _year(record):
    for value in _subs(record, ["264", "260"], ["c"]):
        m = re.search(r"\d{4}", value)
        if m:
            return int(m.group(0))
    f008 = record.get_fields("008")
    if f008 and len(f008[0].data or "") >= 11 and f008[0].data[7:11].isdigit():
        return int(f008[0].data[7:11])
    return None


def _language(record):
    f008 = record.get_fields("008")
    if f008 and len(f008[0].data or "") >= 38:
        code = f008[0].data[35:38].strip().lower()
        if re.fullmatch(r"[a-z]{3}", code):
            return code
    code = _first(record, ["041"], ["a"])
    return code[:3].lower() if code and re.fullmatch(r"[A-Za-z]{3}.*", code) else None


def _subjects(record):
    out = []
    for f in record.get_fields("600", "610", "611", "630", "650", "651"):
        parts = [_clean(v) for v in f.get_subfields("a", "x", "y", "z", "v") if _clean(v)]
        if parts and " -- ".join(parts) not in out:
            out.append(" -- ".join(parts))
    return out


def _title(record):
    for f in record.get_fields("245"):
        parts = [v for v in f.get_subfields("a", "b", "n", "p") if v.strip()]
        if parts:
            title = " ".join(p.strip() for p in parts)
            return _clean(re.sub(r"\s+([:;=])", r" \1", title))
    return None


def _ddc(record):
    value = _first(record, ["082"], ["a"])
    if not value:
        return None
    m = re.match(r"\d{3}(\.\d+)?", value.replace("/", ""))
    return m.group(0) if m else None


def record_to_bib(record):
    """The catalogue fields of a MARC record (the record itself goes to `marc`)."""
    control = record.get_fields("001")
    notes = [_clean(v) for v in _subs(record, ["500", "520"], ["a"])]
    authors = [_clean(v) for v in _subs(record, ["100", "110", "111", "700", "710", "711"],
                                        ["a"])]
    return {
        "title": _title(record),
        "authors": list(dict.fromkeys(a for a in authors if a)),
        "publisher": _first(record, ["264", "260"], ["b"]),
        "year": _year(record),
        "isbn": _isbn(record),
        "language": _language(record),
        "ddc": _ddc(record),
        "subjects": _subjects(record),
        "series": _first(record, ["490", "830", "440"], ["a"]),
        "notes": "\n".join(n for n in notes if n) or None,
        "control_number": (control[0].data or "").strip() or None if control else None,
    }


def record_copies(record):
    """Copies from holdings: 852 (MARC21) or 952 (as Koha writes them)."""
    copies = []
    for f in record.get_fields("952"):
        copies.append({
            "barcode": f.get("p"), "library": f.get("a") or f.get("b"),
            "location": f.get("c"), "call_number": f.get("o"),
            "item_type": f.get("y"), "accession_date": f.get("d")})
    for f in record.get_fields("852"):
        call = " ".join(v for v in (f.get("h"), f.get("i")) if v)
        copies.append({
            "barcode": f.get("p"), "library": f.get("a"), "location": f.get("b"),
            "call_number": call or None, "item_type": None, "accession_date": None})
    return [{k: (v.strip() if isinstance(v, str) else v) or None for k, v in c.items()}
            for c in copies]


def strip_holdings(record):
    record.remove_fields("852", "952")
    return record


def record_to_xml(record):
    return pymarc.record_to_xml(record, namespace=True).decode("utf-8")


def xml_to_record(text):
    records = pymarc.parse_xml_to_array(io.BytesIO(text.encode("utf-8")))
    return records[0] if records else None


def _datafield(tag, subfields, ind=(" ", " ")):
    subs = [Subfield(code, str(value)) for code, value in subfields if value not in (None, "")]
    return Field(tag=tag, indicators=Indicators(*ind), subfields=subs) if subs else None


def bib_to_record(bib, copies=()):
    """A MARC record for a catalogue record: its stored MARC when that still says
    what the catalogue says, else one built from the fields; holdings as Koha's 952."""
    record = xml_to_record(bib["marc"]) if bib.get("marc") else None
    if record is None or _differs(record_to_bib(record), bib):
        record = _build_record(bib)
    strip_holdings(record)
    record.leader = Leader(str(record.leader)[:9] + "a" + str(record.leader)[10:])
    for c in copies:
        field_ = _datafield("952", [("a", c.get("library")), ("b", c.get("library")),
                                    ("c", c.get("location")), ("d", c.get("accession_date")),
                                    ("o", c.get("call_number")), ("p", c.get("barcode")),
                                    ("y", c.get("item_type"))])
        if field_:
            record.add_ordered_field(field_)
    return record


_COMPARED = ("title", "authors", "publisher", "year", "isbn", "language", "ddc", "subjects",
             "series", "control_number")


def _differs(mapped, bib):
    def norm(v):
        return v or None if not isinstance(v, list) else list(v) or None
    return any(norm(mapped.get(k)) != norm(bib.get(k)) for k in _COMPARED)


def _build_record(bib):
    record = Record(force_utf8=True)
    record.leader = Leader("00000nam a2200000 a 4500")
    if bib.get("control_number"):
        record.add_ordered_field(Field(tag="001", data=bib["control_number"]))
    lang = (bib.get("language") or "   ")[:3].ljust(3)
    year = str(bib.get("year") or "    ")[:4].rjust(4)
    record.add_ordered_field(Field(tag="008", data=f"000000s{year}    xx            000 0 {lang} d"))
    fields = [
        _datafield("020", [("a", bib.get("isbn"))]),
        _datafield("082", [("a", bib.get("ddc"))], ind=("0", "4")),
    ]
    authors = list(bib.get("authors") or [])
    if authors:
        fields.append(_datafield("100", [("a", authors[0])], ind=("1", " ")))
    fields += [
        _datafield("245", [("a", bib.get("title"))], ind=("1" if authors else "0", "0")),
        _datafield("264", [("b", bib.get("publisher")), ("c", bib.get("year"))], ind=(" ", "1")),
        _datafield("490", [("a", bib.get("series"))], ind=("0", " ")),
    ]
    fields += [_datafield("500", [("a", n)]) for n in (bib.get("notes") or "").split("\n")]
    for subject in bib.get("subjects") or []:
        parts = [p.strip() for p in subject.split(" -- ")]
        subs = [("a", parts[0])] + [("x", p) for p in parts[1:]]
        fields.append(_datafield("650", subs, ind=(" ", "4")))
    fields += [_datafield("700", [("a", a)], ind=("1", " ")) for a in authors[1:]]
    for f in fields:
        if f:
            record.add_ordered_field(f)
    return record


# --- readers ------------------------------------------------------------------


@dataclass
class Parsed:
    position: int
    bib: dict
    copies: list = field(default_factory=list)
    note: str | None = None  # e.g. "converted from TCVN3"
    record: Record | None = None


@dataclass
class Skipped:
    position: int
    reason: str
    label: str = ""


def _record_texts(record):
    for f in record.fields:
        if f.is_control_field():
            yield f.data or ""
        else:
            yield from (s.value for s in f.subfields)


def _convert_record(record, encoding):
    for f in record.fields:
        if f.is_control_field():
            continue
        f.subfields = [Subfield(s.code, unicodedata.normalize("NFC",
                                                            convert_legacy(s.value, encoding)))
                       for s in f.subfields]
    return record


def _latin1_record(chunk):
    """The record with every byte read as one Latin-1 character (legacy fonts' view)."""
    raw = Record(chunk, to_unicode=False)
    for f in raw.fields:
        if f.is_control_field():
            if isinstance(f.data, bytes):
                f.data = f.data.decode("iso8859-1")
        else:
            f.subfields = [Subfield(s.code, s.value.decode("iso8859-1")
                                    if isinstance(s.value, bytes) else s.value)
                           for s in f.subfields]
    raw.leader = Leader(str(raw.leader)[:9] + "a" + str(raw.leader)[10:])
    return raw


def _decode_chunk(chunk):
    """Parse one ISO 2709 record, repairing legacy Vietnamese text; (record, note)."""
    error = None
    try:
        record = Record(chunk, to_unicode=True, utf8_handling="strict")
    except UnicodeDecodeError as exc:
        record, error = None, exc
    if record is not None:
        text = "\n".join(_record_texts(record))
        if text.isascii() or _score(text)[1] == 0:
            return record, None
    raw = _latin1_record(chunk)
    legacy = detect_legacy("\n".join(_record_texts(raw)))
    if legacy:
        return _convert_record(raw, legacy), f"converted from {legacy.upper()}"
    if record is not None:
        return record, None
    raise ValueError(f"text is not valid UTF-8 and no Vietnamese legacy encoding matches "
                     f"({error})")


def _checked(position, record, note):
    bib = record_to_bib(record)
    if not bib["title"]:
        return Skipped(position, "record has no title (245)", bib.get("control_number") or "")
    copies = record_copies(record)
    strip_holdings(record)
    bib["marc"] = record_to_xml(record)
    return Parsed(position, bib, copies, note, record)


def read_iso2709(fh):
    """Yield Parsed/Skipped for each record of an ISO 2709 stream (UTF-8 or MARC-8)."""
    reader = pymarc.MARCReader(fh, to_unicode=False, permissive=True)
    position = 0
    for raw in reader:
        position += 1
        chunk = reader.current_chunk
        if raw is None:
            exc = reader.current_exception
            yield Skipped(position, f"{type(exc).__name__}: {exc}")
            continue
        try:
            record, note = _decode_chunk(chunk)
        except Exception as exc:  # pymarc raises many kinds on broken data
            yield Skipped(position, f"{type(exc).__name__}: {exc}")
            continue
        yield _checked(position, record, note)


def read_marcxml(fh):
    """Yield Parsed/Skipped for each record of a MARCXML document."""
    try:
        records = pymarc.parse_xml_to_array(fh)
    except Exception as exc:
        yield Skipped(0, f"not a MARCXML document: {exc}")
        return
    for position, record in enumerate(records, 1):
        if record is None:
            yield Skipped(position, "unreadable record")
            continue
        text = "\n".join(_record_texts(record))
        legacy = detect_legacy(text)
        note = None
        if legacy:
            _convert_record(record, legacy)
            note = f"converted from {legacy.upper()}"
        yield _checked(position, record, note)


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


READERS = {"marc": read_iso2709, "marcxml": read_marcxml, "csv": read_csv}


def write_iso2709(fh, records):
    writer = pymarc.MARCWriter(fh)
    for record in records:
        writer.write(record)


def write_marcxml(fh, records):
    writer = pymarc.XMLWriter(fh)
    for record in records:
        writer.write(record)
    writer.close(close_fh=False)


# --- into and out of the catalogue (through core commands) ----------------------

KOHA_TYPES = {"BK": "book", "BOOK": "book", "SER": "periodical", "CR": "periodical",
              "REF": "reference", "VM": "av", "AV": "av", "MU": "av", "MP": "map",
              "MAP": "map", "MS": "manuscript"}


def luhn_digit(digits):
    """The Luhn (mod 10) check digit of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def next_barcode(ctx, kind="3"):
    """A free 14-digit item barcode: kind, 4-digit institution, sequence, Luhn digit.
    The sequence follows the highest generated one (an index lookup, not a count)."""
    from .models import Item

    institution = str(ctx.setting("institution", "0001")).zfill(4)[-4:]
    prefix = f"{kind}{institution}"
    db = Item._meta.database
    top = db.execute_sql(
        "SELECT max(barcode) FROM item WHERE library = %s AND barcode >= %s AND barcode < %s "
        "AND length(barcode) = 14".replace("%s", db.param),
        (ctx.library, prefix + "0", prefix + ":")).fetchone()[0]
    seq = int(top[5:13]) + 1 if top and top[5:13].isdigit() else 1
    while True:
        body = f"{prefix}{seq:08d}"
        code = body + luhn_digit(body)
        if not Item.select().where((Item.library == ctx.library)
                                   & (Item.barcode == code)).exists():
            return code
        seq += 1


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
    items = iter(READERS[kind](fh))
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


def _import_entry(ctx, entry, report):
    if isinstance(entry, Skipped):
        report.skipped.append((entry.position, entry.reason))
        return
    _set_aside_bad_isbn(entry, report)
    try:
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


def bib_dict(bib):
    return {k: getattr(bib, k) for k in ("title", "authors", "publisher", "year", "isbn",
                                         "language", "ddc", "subjects", "series", "notes",
                                         "marc", "control_number")}


def catalogue_records(library=None):
    """MARC records of the whole live catalogue with holdings (of one library)."""
    from .models import Bib, Item

    bibs = Bib.select().where(~Bib.deleted & (Bib.title != "")).order_by(Bib.created_at, Bib.id)
    for bib in bibs.iterator():
        items = Item.select().where(Item.bib == bib.id).order_by(Item.barcode)
        if library:
            items = items.where(Item.library == library)
        copies = [{"barcode": i.barcode, "library": i.library, "location": i.location,
                   "call_number": i.call_number, "item_type": i.item_type,
                   "accession_date": i.accession_date} for i in items]
        yield bib_to_record(bib_dict(bib), copies)


WRITERS = {"marc": write_iso2709, "marcxml": write_marcxml}
