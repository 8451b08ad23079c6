"""Compact encoding of a batch of events, before compression.

Every JSON-like value is written into a column named by its path
(``body.item_id``, ``hlc``...), so similar bytes sit together for deflate,
and typed so that what deflate cannot shrink is small already:

- UUIDs as 16 raw bytes (v7: a millisecond delta and the 10 random bytes), and a
  repeated UUID (anywhere) as a short back-reference;
- ISO dates and date-times as deltas from the previous one (exact text kept);
- integers as zig-zag varint deltas within their column;
- strings repeated in a column as an index; strings with numbers in them
  (barcodes, clocks) as a template plus number deltas;
- dict key sets ("shapes") once per batch.

Every conversion is checked to give back the exact text, otherwise the value
travels as a plain string: ``decode(encode(x)) == x`` for any JSON value.

``pack_events`` also leaves out what the receiver recomputes: each event's
``hash`` (when ``rehash`` reproduces it) and ``prev_hash`` when it is the hash
of the previous event of the same origin in the batch.
"""

from __future__ import annotations

import struct
import uuid
from datetime import date, datetime, timedelta, timezone

NONE, FALSE, TRUE, INT, FLOAT, STR, STR_REF, UUID, UUID_REF = range(9)
DATE, DTIME, HEX, TPL_NEW, TPL_REF, LIST, DICT_NEW, DICT_REF, UUID7 = range(9, 18)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
DAY0 = date(1970, 1, 1)
SPECS = (("seconds", 1_000_000), ("milliseconds", 1000), ("microseconds", 1))
HEXCHARS = frozenset("0123456789abcdef")


class WireError(ValueError):
    """A batch payload that cannot be decoded."""


class _State:
    """Tables both sides build in the same order."""

    def __init__(self):
        self.strings: dict[str, list] = {}
        self.uuids: list = []
        self.uuid_index: dict = {}
        self.shapes: list = []
        self.shape_index: dict = {}
        self.templates: dict[str, list] = {}
        self.last: dict = {}

    def delta_base(self, key) -> int:
        return self.last.get(key, 0)


# ---------------------------------------------------------------- varints

def _put_uint(buf: bytearray, n: int) -> None:
    while n >= 0x80:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


def _put_int(buf: bytearray, n: int) -> None:
    _put_uint(buf, (n << 1) if n >= 0 else ((-n << 1) - 1))


def _put_bytes(buf: bytearray, raw: bytes) -> None:
    _put_uint(buf, len(raw))
    buf += raw


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def byte(self) -> int:
        pos = self.pos
        try:
            b = self.data[pos]
        except IndexError:
            raise WireError("column ended early") from None
        self.pos = pos + 1
        return b

    def uint(self) -> int:
        # A hub decodes every event of every branch: bytes are read in place, and the
        # one-byte varint (most of them) returns at once.
        data, pos = self.data, self.pos
        try:
            b = data[pos]
            pos += 1
            if b < 0x80:
                self.pos = pos
                return b
            n, shift = b & 0x7F, 7
            while True:
                b = data[pos]
                pos += 1
                n |= (b & 0x7F) << shift
                if b < 0x80:
                    self.pos = pos
                    return n
                shift += 7
                if shift > 700:
                    raise WireError("varint too long")
        except IndexError:
            raise WireError("column ended early") from None

    def int(self) -> int:
        z = self.uint()
        return (z >> 1) if not z & 1 else -((z + 1) >> 1)

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise WireError("column ended early")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def text(self) -> str:
        try:
            return self.take(self.uint()).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WireError("bad utf-8 in a string") from exc


# ---------------------------------------------------------------- encoder

class _Encoder:
    def __init__(self):
        self.st = _State()
        self.cols: dict[str, bytearray] = {}

    def col(self, path: str) -> bytearray:
        buf = self.cols.get(path)
        if buf is None:
            buf = self.cols[path] = bytearray()
        return buf

    def value(self, path: str, v) -> None:
        buf = self.col(path)
        if v is None or v is False or v is True:
            buf.append(NONE if v is None else TRUE if v else FALSE)
        elif isinstance(v, int):
            buf.append(INT)
            _put_int(buf, v - self.st.delta_base(("i", path)))
            self.st.last[("i", path)] = v
        elif isinstance(v, float):
            buf.append(FLOAT)
            buf += struct.pack(">d", v)
        elif isinstance(v, str):
            self.string(path, buf, v)
        elif isinstance(v, (list, tuple)):
            buf.append(LIST)
            _put_uint(buf, len(v))
            for item in v:
                self.value(path + "[]", item)
        elif isinstance(v, dict):
            self.mapping(path, buf, v)
        else:
            raise TypeError(f"cannot encode {type(v).__name__} at {path!r}")

    def mapping(self, path: str, buf: bytearray, v: dict) -> None:
        shape = tuple(v)
        idx = self.st.shape_index.get(shape)
        if idx is None:
            for k in shape:
                if not isinstance(k, str):
                    raise TypeError(f"dict keys must be strings at {path!r}")
            self.st.shape_index[shape] = len(self.st.shapes)
            self.st.shapes.append(shape)
            buf.append(DICT_NEW)
            _put_uint(buf, len(shape))
            for k in shape:
                _put_bytes(buf, k.encode("utf-8"))
        else:
            buf.append(DICT_REF)
            _put_uint(buf, idx)
        prefix = path + "." if path else ""
        for k, item in v.items():
            self.value(prefix + k, item)

    def string(self, path: str, buf: bytearray, s: str) -> None:
        table = self.st.strings.setdefault(path, [])
        if s in table:  # columns hold few distinct repeated strings (library, kind...)
            buf.append(STR_REF)
            _put_uint(buf, len(table) - 1 - table.index(s))
            return
        if not (self.uuid_(path, buf, s) or self.date_(path, buf, s) or self.dtime(buf, s)
                or self.hex_(buf, s) or self.template(path, buf, s)):
            buf.append(STR)
            _put_bytes(buf, s.encode("utf-8"))
        if len(s) <= 24:
            table.append(s)
            if len(table) > 64:
                del table[0]

    def uuid_(self, path: str, buf: bytearray, s: str) -> bool:
        if len(s) != 36 or s[8] != "-":
            return False
        idx = self.st.uuid_index.get(s)
        if idx is not None:
            buf.append(UUID_REF)
            _put_uint(buf, len(self.st.uuids) - 1 - idx)
            return True
        try:
            u = uuid.UUID(s)
        except ValueError:
            return False
        if str(u) != s:
            return False
        self.st.uuid_index[s] = len(self.st.uuids)
        self.st.uuids.append(s)
        raw = u.bytes
        if u.version == 7 and u.variant == uuid.RFC_4122:
            ms = int.from_bytes(raw[:6], "big")
            buf.append(UUID7)
            _put_int(buf, ms - self.st.delta_base(("u", path)))
            self.st.last[("u", path)] = ms
            buf += raw[6:]
        else:
            buf.append(UUID)
            buf += raw
        return True

    def date_(self, path: str, buf: bytearray, s: str) -> bool:
        if len(s) != 10 or s[4] != "-" or s[7] != "-":
            return False
        try:
            d = date.fromisoformat(s)
        except ValueError:
            return False
        if d.isoformat() != s:
            return False
        days = (d - DAY0).days
        buf.append(DATE)
        _put_int(buf, days - self.st.delta_base(("d", path)))
        self.st.last[("d", path)] = days
        return True

    def dtime(self, buf: bytearray, s: str) -> bool:
        if not 19 <= len(s) <= 32 or s[10] != "T" or s[4] != "-":
            return False
        try:
            dt = datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith("Z") else s)
        except ValueError:
            return False
        zulu = s.endswith("Z")
        offset = dt.utcoffset()
        tzcode = 0 if offset is None else (1 if zulu else 2)
        if offset is None:
            dt = dt.replace(tzinfo=timezone.utc)
        t_us = (dt - EPOCH) // timedelta(microseconds=1)
        off_s = int(offset.total_seconds()) if offset is not None else 0
        for code, (_spec, unit) in enumerate(SPECS):
            if t_us % unit == 0 and _render_dt(t_us, code, tzcode, off_s) == s:
                buf.append(DTIME)
                _put_uint(buf, code + 4 * tzcode)
                if tzcode == 2:
                    _put_int(buf, off_s)
                _put_int(buf, t_us // unit - self.st.delta_base("t") // unit)
                self.st.last["t"] = t_us
                return True
        return False

    def hex_(self, buf: bytearray, s: str) -> bool:
        if len(s) < 16 or len(s) % 2 or not HEXCHARS.issuperset(s):
            return False
        buf.append(HEX)
        _put_bytes(buf, bytes.fromhex(s))
        return True

    def template(self, path: str, buf: bytearray, s: str) -> bool:
        tpl, nums = _split_numbers(s)
        if not nums:
            return False
        table = self.st.templates.setdefault(path, [])
        if tpl in table:
            tid = table.index(tpl)
            buf.append(TPL_REF)
            _put_uint(buf, tid)
        else:
            tid = len(table)
            table.append(tpl)
            buf.append(TPL_NEW)
            parts, widths = tpl
            _put_uint(buf, len(widths))
            for p in parts:
                _put_bytes(buf, p.encode("utf-8"))
            for w in widths:
                _put_uint(buf, w)
        for i, n in enumerate(nums):
            key = ("n", path, tid, i)
            _put_int(buf, n - self.st.delta_base(key))
            self.st.last[key] = n
        return True

    def output(self) -> bytes:
        out = bytearray()
        _put_uint(out, len(self.cols))
        for path, buf in self.cols.items():
            _put_bytes(out, path.encode("utf-8"))
            _put_uint(out, len(buf))
        for buf in self.cols.values():
            out += buf
        return bytes(out)


def _split_numbers(s: str):
    """'DH000123-4' -> ((('DH', '-', ''), (6, 0)), [123, 4]); runs of <= 18 digits."""
    parts, widths, nums, cur, i = [], [], [], [], 0
    while i < len(s):
        if s[i].isascii() and s[i].isdigit():
            j = i
            while j < len(s) and j - i < 18 and s[j].isascii() and s[j].isdigit():
                j += 1
            run = s[i:j]
            parts.append("".join(cur))
            cur = []
            widths.append(len(run) if run[0] == "0" and len(run) > 1 else 0)
            nums.append(int(run))
            i = j
        else:
            cur.append(s[i])
            i += 1
    parts.append("".join(cur))
    return (tuple(parts), tuple(widths)), nums


def _render_numbers(tpl, nums) -> str:
    parts, widths = tpl
    out = [parts[0]]
    for n, w, p in zip(nums, widths, parts[1:], strict=True):
        out.append(str(n).zfill(w) if w else str(n))
        out.append(p)
    return "".join(out)


def _uuid_text(raw: bytes) -> str:
    """str(uuid.UUID(bytes=raw)), without making the object (a hub reads thousands)."""
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_ZONES: dict = {}


def _render_dt(t_us: int, code: int, tzcode: int, off_s: int) -> str:
    dt = EPOCH + timedelta(microseconds=t_us)
    if tzcode == 0:
        dt = dt.replace(tzinfo=None)
    elif tzcode == 2:
        zone = _ZONES.get(off_s)
        if zone is None:
            zone = timezone(timedelta(seconds=off_s))
            if len(_ZONES) < 64:  # the few offsets clocks use; a sender cannot grow it
                _ZONES[off_s] = zone
        dt = dt.astimezone(zone)
    s = dt.isoformat(timespec=SPECS[code][0])
    return s[:-6] + "Z" if tzcode == 1 else s


# ---------------------------------------------------------------- decoder

class _Decoder:
    def __init__(self, data: bytes):
        head = _Reader(data)
        count = head.uint()
        if count > 100_000:
            raise WireError("too many columns")
        layout = [(head.text(), head.uint()) for _ in range(count)]
        pos = head.pos
        self.cols: dict[str, _Reader] = {}
        for path, size in layout:
            self.cols[path] = _Reader(data[pos:pos + size])
            pos += size
        if pos != len(data):
            raise WireError("column lengths do not add up to the payload")
        self.st = _State()

    def value(self, path: str, depth: int = 0):
        if depth > 64:
            raise WireError("nesting too deep")
        col = self.cols.get(path)
        if col is None:
            raise WireError(f"missing column {path!r}")
        tag = col.byte()
        if tag <= TRUE:
            return (None, False, True)[tag]
        if tag == INT:
            v = col.int() + self.st.delta_base(("i", path))
            self.st.last[("i", path)] = v
            return v
        if tag == FLOAT:
            return struct.unpack(">d", col.take(8))[0]
        if tag == LIST:
            return [self.value(path + "[]", depth + 1) for _ in range(col.uint())]
        if tag in (DICT_NEW, DICT_REF):
            return self.mapping(path, col, tag, depth)
        if STR <= tag <= TPL_REF or tag == UUID7:
            return self.string(path, col, tag)
        raise WireError(f"unknown tag {tag} in column {path!r}")

    def mapping(self, path: str, col: _Reader, tag: int, depth: int) -> dict:
        if tag == DICT_NEW:
            shape = tuple(col.text() for _ in range(col.uint()))
            self.st.shapes.append(shape)
        else:
            shape = self._at(self.st.shapes, col.uint(), "shape")
        prefix = path + "." if path else ""
        return {k: self.value(prefix + k, depth + 1) for k in shape}

    def string(self, path: str, col: _Reader, tag: int) -> str:
        table = self.st.strings.setdefault(path, [])
        if tag == STR_REF:
            return table[len(table) - 1 - self._at(table, col.uint(), "string", True)]
        if tag == STR:
            s = col.text()
        elif tag == UUID:
            s = _uuid_text(col.take(16))
            self.st.uuids.append(s)
        elif tag == UUID7:
            ms = col.int() + self.st.delta_base(("u", path))
            self.st.last[("u", path)] = ms
            rest = col.take(10)
            if not 0 <= ms < 1 << 48 or rest[0] >> 4 != 7 or rest[2] >> 6 != 2:
                raise WireError("bad UUIDv7")
            s = _uuid_text(ms.to_bytes(6, "big") + rest)
            self.st.uuids.append(s)
        elif tag == UUID_REF:
            uu = self.st.uuids
            s = uu[len(uu) - 1 - self._at(uu, col.uint(), "uuid", True)]
        elif tag == DATE:
            days = col.int() + self.st.delta_base(("d", path))
            self.st.last[("d", path)] = days
            s = (DAY0 + timedelta(days=days)).isoformat()
        elif tag == DTIME:
            s = self.dtime(col)
        elif tag == HEX:
            s = col.take(col.uint()).hex()
        else:
            s = self.template(path, col, tag)
        if len(s) <= 24:
            table.append(s)
            if len(table) > 64:
                del table[0]
        return s

    def dtime(self, col: _Reader) -> str:
        form = col.uint()
        code, tzcode = form % 4, form // 4
        if code > 2 or tzcode > 2:
            raise WireError(f"bad date-time form {form}")
        off_s = col.int() if tzcode == 2 else 0
        unit = SPECS[code][1]
        t_us = (col.int() + self.st.delta_base("t") // unit) * unit
        self.st.last["t"] = t_us
        try:
            return _render_dt(t_us, code, tzcode, off_s)
        except (OverflowError, ValueError) as exc:
            raise WireError(f"date-time out of range: {exc}") from exc

    def template(self, path: str, col: _Reader, tag: int) -> str:
        table = self.st.templates.setdefault(path, [])
        if tag == TPL_NEW:
            n = col.uint()
            parts = tuple(col.text() for _ in range(n + 1))
            widths = tuple(col.uint() for _ in range(n))
            tid = len(table)
            table.append((parts, widths))
        else:
            tid = col.uint()
            self._at(table, tid, "template")
        tpl = table[tid]
        nums = []
        for i in range(len(tpl[1])):
            key = ("n", path, tid, i)
            nums.append(col.int() + self.st.delta_base(key))
            self.st.last[key] = nums[-1]
        return _render_numbers(tpl, nums)

    @staticmethod
    def _at(table: list, idx: int, what: str, back: bool = False):
        if idx >= len(table):
            raise WireError(f"{what} reference {idx} out of range")
        return idx if back else table[idx]


# ---------------------------------------------------------------- API

def encode(value) -> bytes:
    """Encode any JSON-like value."""
    enc = _Encoder()
    enc.value("", value)
    return enc.output()


def decode(data: bytes):
    try:
        dec = _Decoder(bytes(data))
        value = dec.value("")
    except WireError:
        raise
    except (IndexError, ValueError, OverflowError, TypeError) as exc:
        raise WireError(f"malformed batch: {exc}") from exc
    if any(col.pos != len(col.data) for col in dec.cols.values()):
        raise WireError("bytes left over in a column")
    return value


def pack_events(events: list[dict], rehash=None) -> bytes:
    """Encode events, leaving out hashes the receiver can recompute."""
    return encode(slim_events(events, rehash))


def unpack_events(data: bytes, rehash=None) -> list[dict]:
    """Decode events and put back the hashes ``pack_events`` left out."""
    return restore_events(decode(data), rehash)


def slim_events(events: list[dict], rehash=None) -> list[dict]:
    last: dict = {}
    slim = []
    for original in events:
        ev = dict(original)
        origin = ev.get("origin")
        if origin in last and ev.get("prev_hash") == last[origin]:
            del ev["prev_hash"]
        last[origin] = ev.get("hash")
        if rehash is not None and "hash" in ev and rehash(original) == ev["hash"]:
            del ev["hash"]
        slim.append(ev)
    return slim


def restore_events(slim, rehash=None) -> list[dict]:
    if not isinstance(slim, list) or not all(isinstance(e, dict) for e in slim):
        raise WireError("a batch is a list of events")
    last: dict = {}
    out = []
    for ev in slim:
        origin = ev.get("origin")
        if "prev_hash" not in ev:
            if origin not in last:
                raise WireError("first event of an origin lacks prev_hash")
            ev["prev_hash"] = last[origin]
        if "hash" not in ev:
            if rehash is None:
                raise WireError("event hash left out but no way to recompute it")
            try:
                ev["hash"] = rehash(ev)
            except (KeyError, TypeError, ValueError) as exc:
                raise WireError(f"event lacks a field: {exc}") from exc
        last[origin] = ev["hash"]
        out.append(ev)
    return out
