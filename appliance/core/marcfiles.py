"""MARC21 files in (ISO 2709, MARCXML) and out, as pure functions.

Every reader (CSV's too) yields `Parsed(bib, copies, note)` or `Skipped(position,
reason)`; appliance.core.importer turns them into core commands. Legacy Vietnamese
bytes are detected and converted here, or the record is reported."""

import io
import re
import unicodedata
from dataclasses import dataclass, field

import pymarc
from pymarc import Leader, Record, Subfield

from .legacy_vn import convert_legacy, detect_legacy, stray_score
from .marcmap import record_copies, record_to_bib, record_to_xml, strip_holdings
from .xmltext import clean_record, xml_safe


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
    try:
        return _mapped(position, clean_record(record), note)
    except Exception as exc:  # a field pymarc read but the mapping cannot use
        return Skipped(position, f"{type(exc).__name__}: {exc}")


def _mapped(position, record, note):
    bib = record_to_bib(record)
    if not bib["title"]:
        return Skipped(position, "record has no title (245)", bib.get("control_number") or "")
    copies = record_copies(record)
    strip_holdings(record)
    bib["marc"] = record_to_xml(record)
    return Parsed(position, bib, copies, note, record)


def read_iso2709(fh):
    """Yield Parsed/Skipped for each record of an ISO 2709 stream (UTF-8 or MARC-8)."""
    for position, chunk in enumerate(_iso_chunks(fh), 1):
        try:
            record, note = _decode_chunk(chunk)
        except Exception as exc:  # pymarc raises many kinds on broken data
            yield Skipped(position, f"{type(exc).__name__}: {exc}")
            continue
        yield _checked(position, record, note)


def _iso_chunks(fh, size=1 << 16):
    """Records split at their terminator (0x1D), not by the length their leader claims:
    a wrong length, a bad leader or a cut file then spoils one record, not all that follow.
    Line breaks some systems put between records are not records."""
    rest = b""
    while True:
        block = fh.read(size)
        if not block:
            break
        parts = (rest + block).split(b"\x1d")
        rest = parts.pop()
        for part in parts:
            if part.strip(b"\r\n"):
                yield part.lstrip(b"\r\n") + b"\x1d"
    if rest.strip(b"\r\n"):
        yield rest.lstrip(b"\r\n")  # the last record, cut short


def read_marcxml(fh):
    """Yield Parsed/Skipped for each record of a MARCXML document. A bad element spoils
    only its record; a document broken part-way keeps the records before the break."""
    handler = _RecordsHandler()
    try:
        pymarc.parse_xml(io.BytesIO(_xml_safe_bytes(fh.read())), handler)
        error = None
    except Exception as exc:  # not XML, truncated, wrong encoding, ...
        error = exc
    for position, item in enumerate(handler.records, 1):
        if isinstance(item, str):
            yield Skipped(position, item)
            continue
        yield _xml_record(position, item)
    if error is not None:
        where = "the rest of the document" if handler.records else "the document"
        yield Skipped(len(handler.records) + 1, f"{where} is not readable MARCXML: {error}")


def _xml_record(position, record):
    try:
        legacy = detect_legacy("\n".join(_record_texts(record)))
        if legacy:
            _convert_record(record, legacy)
    except Exception as exc:
        return Skipped(position, f"{type(exc).__name__}: {exc}")
    return _checked(position, record, f"converted from {legacy.upper()}" if legacy else None)


# C0 control bytes XML forbids, raw or as character references (`&#x1B;`, the MARC-8
# escape, is common in MARCXML written by old systems): one would stop the parser at the
# record that holds it and lose every record after it.
_FORBIDDEN_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_CHAR_REF = re.compile(rb"&#(x[0-9a-fA-F]{1,8}|[0-9]{1,10});")


def _xml_safe_bytes(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 is all NULs and more
        data = _FORBIDDEN_BYTES.sub(b"", data)
    return _CHAR_REF.sub(_allowed_ref, data)


def _allowed_ref(match):
    ref = match.group(1)
    code = int(ref[1:], 16) if ref[:1] == b"x" else int(ref)
    return match.group(0) if code <= 0x10FFFF and xml_safe(chr(code)) == chr(code) else b""


class _RecordsHandler(pymarc.XmlHandler):
    """pymarc's handler, but an element pymarc cannot take (a bad tag, a missing
    attribute, a bad leader) turns its record into a report line, not a failure."""

    def __init__(self):
        super().__init__()
        self._fault = None

    def startElementNS(self, name, qname, attrs):
        try:
            super().startElementNS(name, qname, attrs)
        except Exception as exc:
            self._spoil(exc)

    def endElementNS(self, name, qname):
        if name[1] == "record" and self._fault:
            self.records.append(self._fault)
            self._record, self._field, self._fault, self._text = None, None, None, []
            return
        try:
            super().endElementNS(name, qname)
        except Exception as exc:
            self._spoil(exc)
            self._text = []

    def _spoil(self, exc):
        self._fault = self._fault or f"{type(exc).__name__}: {exc}"
        self._field = None


def write_iso2709(fh, records):
    writer = pymarc.MARCWriter(fh)
    for record in records:
        writer.write(record)


def write_marcxml(fh, records):
    writer = pymarc.XMLWriter(fh)
    for record in records:
        writer.write(record)
    writer.close(close_fh=False)
