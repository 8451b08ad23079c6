"""A MARC record to the catalogue's fields and back (holdings as Koha's 952)."""

import io
import re

import pymarc
from pymarc import Field, Indicators, Leader, Record, Subfield

from .xmltext import clean_record, xml_safe

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
        **marks_of(record),
    }


# The marks of the documents the plan digitises first, in a locally defined field
# (MARC 21 leaves 9XX to the library): 910 $a "local-history", "rare" or "special",
# one subfield per mark. Every record exported says its marks there.
MARK_TAG = "910"
MARKS = {"local-history": "local_history", "rare": "rare", "special": "special_value"}


def marks_of(record):
    """The marks a record carries (only those it carries: a file without 910 leaves
    what the desk marked alone)."""
    said = {(_clean(v) or "").lower() for v in _subs(record, [MARK_TAG], ["a"]) if v}
    return {field: True for code, field in MARKS.items() if code in said}


def _with_marks(record, bib):
    record.remove_fields(MARK_TAG)
    codes = [code for code, field in MARKS.items() if bib.get(field)]
    if codes:
        record.add_ordered_field(_datafield(MARK_TAG, [("a", c) for c in codes]))
    return record


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
    """The stored MARCXML as a record; None when it cannot be read (the record is then
    built from the catalogue's fields)."""
    try:
        records = pymarc.parse_xml_to_array(io.BytesIO(xml_safe(text).encode("utf-8")))
    except Exception:  # stored before imports were checked: never let it break an export
        return None
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
    strip_holdings(clean_record(record))
    _with_marks(record, bib)
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
