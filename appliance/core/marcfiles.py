"""MARC21 files in (ISO 2709, MARCXML) and out, as pure functions.

Every reader (CSV's too) yields `Parsed(bib, copies, note)` or `Skipped(position,
reason)`; appliance.core.importer turns them into core commands. Legacy Vietnamese
bytes are detected and converted here, or the record is reported."""

import unicodedata
from dataclasses import dataclass, field

import pymarc
from pymarc import Leader, Record, Subfield

from .legacy_vn import convert_legacy, detect_legacy, stray_score
from .marcmap import record_copies, record_to_bib, record_to_xml, strip_holdings


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
        if text.isascii() or stray_score(text)[1] == 0:
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


def write_iso2709(fh, records):
    writer = pymarc.MARCWriter(fh)
    for record in records:
        writer.write(record)


def write_marcxml(fh, records):
    writer = pymarc.XMLWriter(fh)
    for record in records:
        writer.write(record)
    writer.close(close_fh=False)
