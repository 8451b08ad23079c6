"""SIP2 (3M Standard Interchange Protocol 2.00) framing, fields and checksums.

A message is a two-digit code, fixed-length fields, then variable fields
`XXvalue|`, then optionally `AYn` (sequence number) and `AZxxxx` (checksum),
then CR. The checksum is the 16-bit two's complement of the byte sum of the
message up to and including `AZ`, as four upper-case hex digits; it is
computed over the bytes on the wire, so it depends on the account's encoding.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

# Fixed-length fields in wire order: (name, length). Requests and responses.
FIXED: dict[str, tuple[tuple[str, int], ...]] = {
    "93": (("uid_algorithm", 1), ("pwd_algorithm", 1)),
    "94": (("ok", 1),),
    "99": (("status_code", 1), ("max_print_width", 3), ("protocol_version", 4)),
    "98": (
        ("online_status", 1), ("checkin_ok", 1), ("checkout_ok", 1),
        ("acs_renewal_policy", 1), ("status_update_ok", 1), ("offline_ok", 1),
        ("timeout_period", 3), ("retries_allowed", 3), ("date_time_sync", 18),
        ("protocol_version", 4),
    ),
    "23": (("language", 3), ("transaction_date", 18)),
    "24": (("patron_status", 14), ("language", 3), ("transaction_date", 18)),
    "63": (("language", 3), ("transaction_date", 18), ("summary", 10)),
    "64": (
        ("patron_status", 14), ("language", 3), ("transaction_date", 18),
        ("hold_items_count", 4), ("overdue_items_count", 4), ("charged_items_count", 4),
        ("fine_items_count", 4), ("recall_items_count", 4), ("unavailable_holds_count", 4),
    ),
    "11": (
        ("sc_renewal_policy", 1), ("no_block", 1), ("transaction_date", 18),
        ("nb_due_date", 18),
    ),
    "12": (
        ("ok", 1), ("renewal_ok", 1), ("magnetic_media", 1), ("desensitize", 1),
        ("transaction_date", 18),
    ),
    "09": (("no_block", 1), ("transaction_date", 18), ("return_date", 18)),
    "10": (
        ("ok", 1), ("resensitize", 1), ("magnetic_media", 1), ("alert", 1),
        ("transaction_date", 18),
    ),
    "17": (("transaction_date", 18),),
    "18": (
        ("circulation_status", 2), ("security_marker", 2), ("fee_type", 2),
        ("transaction_date", 18),
    ),
    "29": (
        ("third_party_allowed", 1), ("no_block", 1), ("transaction_date", 18),
        ("nb_due_date", 18),
    ),
    "30": (
        ("ok", 1), ("renewal_ok", 1), ("magnetic_media", 1), ("desensitize", 1),
        ("transaction_date", 18),
    ),
    "65": (("transaction_date", 18),),
    "66": (
        ("ok", 1), ("renewed_count", 4), ("unrenewed_count", 4), ("transaction_date", 18),
    ),
    "15": (("hold_mode", 1), ("transaction_date", 18)),
    "16": (("ok", 1), ("available", 1), ("transaction_date", 18)),
    "35": (("transaction_date", 18),),
    "36": (("end_session", 1), ("transaction_date", 18)),
    "37": (
        ("transaction_date", 18), ("fee_type", 2), ("payment_type", 2),
        ("currency_type", 3),
    ),
    "38": (("payment_accepted", 1), ("transaction_date", 18)),
    "19": (("transaction_date", 18),),
    "20": (("item_properties_ok", 1), ("transaction_date", 18)),
    "25": (("transaction_date", 18),),
    "26": (("patron_status", 14), ("language", 3), ("transaction_date", 18)),
    "01": (("card_retained", 1), ("transaction_date", 18)),
    "97": (),
    "96": (),
}

# The variable fields the specification lists for each request. Others are ignored, as
# Koha does: a machine set up for another system may send extras, and answering 96 to
# them would have it resend the same line for ever.
REQUEST_FIELDS: dict[str, frozenset[str]] = {code: frozenset(ids.split()) for code, ids in {
    "93": "CN CO CP",
    "99": "",
    "23": "AO AA AC AD",
    "63": "AO AA AC AD BP BQ",
    "11": "AO AA AB AC CH AD BO BI",
    "09": "AP AO AB AC CH BI",
    "17": "AO AB AC",
    "29": "AO AA AD AB AJ AC CH BO",
    "65": "AO AA AD AC BO",
    "15": "BW BS BY AO AA AD AB AJ AC BO",
    "35": "AO AA AC AD",
    "37": "BV AO AA AC AD CG BK",
    "19": "AO AB AC CH",
    "25": "AO AA AC AD",
    "01": "AO AL AA AC",
    "97": "",
}.items()}
REQUESTS = tuple(REQUEST_FIELDS)

# Koha's client emulator sends item information (17) with a language field before the
# date, as in 23 and 63; read it as such rather than as a shifted date.
LANGUAGE_FIRST = {"17": (("language", 3), ("transaction_date", 18))}

# Variable field identifiers of SIP2 2.00.
FIELDS = {
    "AA": "patron identifier", "AB": "item identifier", "AC": "terminal password",
    "AD": "patron password", "AE": "personal name", "AF": "screen message",
    "AG": "print line", "AH": "due date", "AJ": "title identifier",
    "AL": "blocked card msg", "AM": "library name", "AN": "terminal location",
    "AO": "institution id", "AP": "current location", "AQ": "permanent location",
    "AS": "hold items", "AT": "overdue items", "AU": "charged items", "AV": "fine items",
    "AY": "sequence number", "AZ": "checksum", "BD": "home address", "BE": "e-mail address",
    "BF": "home phone number", "BG": "owner", "BH": "currency type", "BI": "cancel",
    "BK": "transaction id", "BL": "valid patron", "BM": "renewed items",
    "BN": "unrenewed items", "BO": "fee acknowledged", "BP": "start item",
    "BQ": "end item", "BR": "queue position", "BS": "pickup location", "BT": "fee type",
    "BU": "recall items", "BV": "fee amount", "BW": "expiration date",
    "BX": "supported messages", "BY": "hold type", "BZ": "hold items limit",
    "CA": "overdue items limit", "CB": "charged items limit", "CC": "fee limit",
    "CD": "unavailable hold items", "CF": "hold queue length", "CG": "fee identifier",
    "CH": "item properties", "CI": "security inhibit", "CJ": "recall date",
    "CK": "media type", "CL": "sort bin", "CM": "hold pickup date", "CN": "login user id",
    "CO": "login password", "CP": "location code", "CQ": "valid patron password",
}

MAX_LINE = 8192
_FIELD_ID = re.compile(r"[A-Z]{2}")
# Fields end with '|', so AY/AZ are only read at the very end of the line.
_TRAILER = re.compile(rb"(?:\|?AY([0-9])\|?)?AZ([0-9A-Fa-f]{4})$|\|?AY([0-9])$")
# What is left of a trailer that is not one (say `AY1AZ` and three digits): refused, as
# a bad checksum is, rather than read as a field and processed unchecked.
_BROKEN_TRAILER = re.compile(rb"AY[^|]?AZ[^|]*$")
_TRAILER_IDS = ("AY", "AZ")


class SipError(ValueError):
    """A message that cannot be parsed; `reason` is a short, stable token."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ChecksumError(SipError):
    def __init__(self, expected: str, got: str):
        super().__init__("bad_checksum", f"expected AZ{expected}, got AZ{got}")


@dataclass
class Message:
    code: str
    fixed: dict[str, str] = field(default_factory=dict)
    fields: list[tuple[str, str]] = field(default_factory=list)
    seq: int | None = None
    checksummed: bool = False

    def get(self, fid: str, default: str = "") -> str:
        for k, v in self.fields:
            if k == fid:
                return v
        return default

    def getall(self, fid: str) -> list[str]:
        return [v for k, v in self.fields if k == fid]

    def has(self, fid: str) -> bool:
        return any(k == fid for k, _ in self.fields)


def checksum(data: bytes) -> str:
    """Two's complement of the 16-bit byte sum, four upper-case hex digits."""
    return f"{(-sum(data)) & 0xFFFF:04X}"


def sip_date(when: datetime | None = None) -> str:
    """The 18-character SIP2 date: YYYYMMDD, four spaces (local zone), HHMMSS."""
    when = when or datetime.now()
    return when.strftime("%Y%m%d    %H%M%S")


def parse_date(text: str) -> datetime | None:
    """Read an 18-character SIP2 date; blank gives None; anything else raises SipError."""
    if not text.strip():
        return None
    try:
        return datetime.strptime(text[:8] + text[12:18], "%Y%m%d%H%M%S")
    except ValueError:
        raise SipError("bad_date", f"not a SIP2 date: {text!r}") from None


def yn(flag: bool) -> str:
    return "Y" if flag else "N"


def clean(value: object) -> str:
    """A field value that cannot break framing: no '|' and no line ends."""
    text = "" if value is None else str(value)
    return text.replace("|", "/").replace("\r", " ").replace("\n", " ")


_TONES = "\u0300\u0301\u0303\u0309\u0323"  # the five Vietnamese tone marks


def _is_cp1258(encoding: str) -> bool:
    return encoding.replace("-", "").lower() in ("cp1258", "windows1258")


def to_bytes(text: str, encoding: str) -> bytes:
    """Encode text; for cp1258 split tone marks off as its combining characters."""
    if not _is_cp1258(encoding):
        return text.encode(encoding, errors="replace")
    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            out.append(ch.encode(encoding))
        except UnicodeEncodeError:
            out.append(_split_tone(ch).encode(encoding, errors="replace"))
    return b"".join(out)


def _split_tone(ch: str) -> str:
    parts = unicodedata.normalize("NFD", ch)
    tones = "".join(c for c in parts if c in _TONES)
    base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
    return base + tones


def from_bytes(data: bytes, encoding: str) -> str:
    text = data.decode(encoding)
    return unicodedata.normalize("NFC", text) if _is_cp1258(encoding) else text


def strip_terminator(line: bytes) -> bytes:
    return line.rstrip(b"\r\n")


def parse(line: bytes, encoding: str = "utf-8") -> Message:
    """Parse one message (terminator optional). Raises SipError with a clear reason."""
    return _parse(line, encoding, request=False)


def parse_request(line: bytes, encoding: str = "utf-8") -> Message:
    """Parse what a machine sent: as `parse`, but fields the specification does not list
    for the message, and chunks that are no field at all, are left out instead of
    refused; a bad or broken checksum is still refused."""
    return _parse(line, encoding, request=True)


def _parse(line: bytes, encoding: str, request: bool) -> Message:
    raw = strip_terminator(line)
    if len(raw) > MAX_LINE:
        raise SipError("too_long", f"{len(raw)} bytes, limit {MAX_LINE}")
    if len(raw) < 2:
        raise SipError("too_short", "no message code")
    seq, checked, body = _split_trailer(raw)
    try:
        text = from_bytes(body, encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SipError("bad_encoding", f"not {encoding}: {exc}") from None
    code = text[:2]
    if code not in FIXED:
        raise SipError("unknown_code", f"unknown message code {code!r}")
    msg = Message(code=code, seq=seq, checksummed=checked)
    layout = _fixed_layout(code, text) if request else FIXED[code]
    pos = 2
    for name, length in layout:
        value = text[pos:pos + length]
        if len(value) != length:
            raise SipError("short_fixed", f"message {code}: fixed field {name} needs {length} characters")
        msg.fixed[name] = value
        pos += length
    fields = _parse_fields(code, text[pos:], lenient=request)
    if request and code in REQUEST_FIELDS:
        fields = [(fid, value) for fid, value in fields if fid in REQUEST_FIELDS[code]]
    msg.fields = fields
    return msg


def _fixed_layout(code: str, text: str) -> tuple[tuple[str, int], ...]:
    """The fixed fields of a request: the specification's, or a known variant whose
    date then lines up (a three-digit language before the date)."""
    variant = LANGUAGE_FIRST.get(code)
    if variant and text[2:5].isdigit() and not _is_date(text[2:20]) and _is_date(text[5:23]):
        return variant
    return FIXED[code]


def _is_date(text: str) -> bool:
    try:
        return parse_date(text) is not None
    except SipError:
        return False


def _split_trailer(raw: bytes) -> tuple[int | None, bool, bytes]:
    trailer = _TRAILER.search(raw)
    if not trailer:
        broken = _BROKEN_TRAILER.search(raw)
        if broken:
            raise SipError("bad_checksum", f"malformed trailer {broken.group(0)[:16]!r}")
        return None, False, raw
    if trailer.group(2) is not None:
        got = trailer.group(2).decode("ascii").upper()
        want = checksum(raw[:-4])
        if got != want:
            raise ChecksumError(want, got)
    digit = trailer.group(1) or trailer.group(3)
    seq = int(digit) if digit is not None else None
    return seq, trailer.group(2) is not None, raw[: trailer.start()]


def _parse_fields(code: str, text: str, lenient: bool = False) -> list[tuple[str, str]]:
    out = []
    for part in text.split("|"):
        if not part:
            continue
        fid = part[:2]
        if fid in _TRAILER_IDS:
            # AY/AZ only ever end a message: here they are a trailer gone wrong.
            raise SipError("bad_checksum", f"message {code}: malformed trailer {part[:16]!r}")
        if len(part) < 2 or not _FIELD_ID.fullmatch(fid):
            if lenient:
                continue
            raise SipError("bad_field", f"message {code}: bad field {part[:10]!r}")
        out.append((fid, part[2:]))
    return out


def encode(msg: Message, encoding: str = "utf-8", seq: int | None = None,
           with_checksum: bool = True, terminator: bytes = b"\r") -> bytes:
    """Serialise a message; `seq` adds AYn, then AZ over the encoded bytes."""
    parts = [msg.code]
    for name, length in FIXED[msg.code]:
        value = msg.fixed.get(name, "")
        if len(value) != length:
            raise ValueError(f"{msg.code}.{name} must be {length} characters, got {value!r}")
        parts.append(value)
    for fid, value in msg.fields:
        parts.append(f"{fid}{clean(value)}|")
    data = to_bytes("".join(parts), encoding)
    if seq is not None:
        data += f"AY{seq % 10}".encode("ascii")
    if with_checksum:
        data += b"AZ"
        data += checksum(data).encode("ascii")
    return data + terminator


def resend_request(terminator: bytes = b"\r") -> bytes:
    """The 96 message asking the other side to send its last message again."""
    return encode(Message("96"), seq=None, terminator=terminator)
