"""The event log: every change of state is an event, hash-chained per origin.

`record` appends an event made here and applies it through the projector in one
transaction; `ingest` does the same for events made elsewhere (sync, USB). Both
go through `projector.apply`, so a rebuild from the log gives the same state."""

import contextlib
import functools
import hashlib
import itertools
import json
import operator
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from json.encoder import encode_basestring as _string

import peewee as pw

from . import dialect, memo, projector
from .errors import N_, DomainError, Invalid
from .ids import new_id
from .models import Event, database_proxy

GENESIS = "0" * 64
_write_lock = threading.RLock()


# Made once: `json.dumps` with these options builds an encoder on every call.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def canonical(obj):
    return _CANONICAL.encode(obj)


HASHED = ("id", "origin", "seq", "hlc", "wall", "library", "kind", "prev_hash")


# The canonical text of the hashed fields, for an event made here (whose fields are known
# to be plain strings and integers): the same text as `canonical`, written directly.
_LOCAL = '{"body":%s,"hlc":%d,"id":%s,"kind":%s,"library":%s,"origin":%s,"prev_hash":%s,' \
         '"seq":%d,"wall":%s}'


def _local_hash(d, body_text):
    text = _LOCAL % (body_text, d["hlc"], _string(d["id"]), _string(d["kind"]),
                     _string(d["library"]), _string(d["origin"]), _string(d["prev_hash"]),
                     d["seq"], _string(d["wall"]))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def event_hash(d):
    """SHA-256 of the canonical JSON of the hashed fields and the body."""
    body = d["body"] if isinstance(d["body"], dict) else json.loads(d["body"])
    return _hash_with(d, canonical(body))


_TEXT_FIELDS = ("id", "wall", "library", "kind", "origin", "prev_hash")


def _hash_with(d, body_text):
    """event_hash, given the body's canonical text: the fields written straight into
    the canonical text when they are plain strings and integers (a hub hashes every
    event it receives), through `canonical` otherwise (a flag is not an integer there)."""
    if type(d["seq"]) is int and type(d["hlc"]) is int and all(
            type(d[k]) is str for k in _TEXT_FIELDS):
        return _local_hash(d, body_text)
    fields = {k: d[k] for k in HASHED}
    fields["body"] = json.loads(body_text)
    return hashlib.sha256(canonical(fields).encode("utf-8")).hexdigest()


# What travels beside an event but is never in the log or its hash: a patron's key
# beside `patron.key` (core/rights/keys.py). kind -> (attach(d), take(d)): `to_dict`
# attaches it for sync, `ingest` takes it in before the event is applied.
BESIDE: dict = {}
# Erased personal data (core/rights/erasure.py): `erased_ok(d)` says an event's body may
# differ from what its hash was made of (its personal fields shredded), `after_store`
# sees the rows a batch stored (to shred what an erasure names).
ERASURE: dict = {}


def to_dict(ev):
    d = {"id": ev.id, "origin": ev.origin, "seq": ev.seq, "hlc": ev.hlc, "wall": ev.wall,
         "library": ev.library, "kind": ev.kind, "body": json.loads(ev.body),
         "prev_hash": ev.prev_hash, "hash": ev.hash}
    if ev.kind in BESIDE:
        BESIDE[ev.kind][0](d)
    return d


# Per thread: how deep it is in `writing`. Thread-local, so that another thread that only
# has a transaction of its own open still takes the write lock instead of joining.
class _Writer(threading.local):
    # Defaults, so that a thread asking before it ever wrote raises nothing to learn it.
    depth = 0
    tail: tuple | None = None


_writer = _Writer()


@contextmanager
def writing(ctx):
    """One writer at a time: a process lock for threads, a database lock for processes.

    Inside a transaction already (a command calling another, or `record`), it joins it:
    any error rolls the whole of it back. Code that must survive a failed step takes its
    own savepoint (as the importer does per record)."""
    if _writing(ctx):
        yield
        return
    with _write_lock:
        _writer.depth += 1
        try:
            if ctx.db.in_transaction():
                _observe_log(ctx)
                yield
            elif isinstance(ctx.db, pw.SqliteDatabase):  # (no transaction open: a new one)
                with ctx.db.transaction("IMMEDIATE"):
                    _observe_log(ctx)
                    yield
            else:
                with ctx.db.transaction():
                    ctx.db.execute_sql("SELECT pg_advisory_xact_lock(7202)")
                    _observe_log(ctx)
                    yield
        except (pw.OperationalError, sqlite3.OperationalError) as e:  # the plain SQL's own
            _said_if_disk_full(e)
            raise
        finally:
            _writer.depth -= 1
            _writer.tail = None
            memo.release()


# The log's highest clock. On SQLite it is not indexed, since every loan and return would
# write that index too: it is the clock of the log's last event or the LOG_TOP setting,
# whichever is higher. An event made here is stamped after every event the log held
# (`writing` observed them first), so while the log ends with events made here the last
# one has the highest clock; a batch from elsewhere may carry lower clocks, so `ingest`
# leaves in LOG_TOP the highest clock the log holds after it (`_raise_top`), and a
# clock set back (clockfix) takes it down again (`reckon_top`). PostgreSQL (a hub, whose
# batches are stored side by side) keeps the index and asks it.
LOG_TOP = "log_top"
_TOP_PG = "(SELECT COALESCE(MAX(hlc), 0) FROM event)"


def log_top():
    """The highest clock the log holds (0 for an empty log)."""
    if dialect.is_postgres(database_proxy):
        return dialect.run("SELECT " + _TOP_PG).fetchone()[0] or 0
    return _top_of(dialect.run(_START).fetchone())


def _top_of(start):
    """The log's highest clock from a row of _START: its last event's or LOG_TOP."""
    return max(start[1] or 0, int(start[5] or 0))


def reckon_top():
    """LOG_TOP from the whole log, after clocks in it were set back (clockfix)."""
    if not dialect.is_postgres(database_proxy):
        _set_top(dialect.run(HIGHEST).fetchone()[0])


def _raise_top(before, rows):
    """After a batch from elsewhere is stored (SQLite): LOG_TOP is the highest clock of
    the log as it was (`before`) and of the batch."""
    if rows:
        _set_top(max(before, max(row["hlc"] for row in rows)))


SET_TOP = ("INSERT INTO setting (key, value) VALUES ('log_top', ?) "
           "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
HIGHEST = "SELECT COALESCE(MAX(hlc), 0) FROM event"  # the whole log's, read or scanned


def _set_top(value):
    dialect.run(SET_TOP, (str(int(value)),))


# The log's highest clock and what sync learned of this device's clock (clockfix), in
# one statement.
_CLOCK_NOW = ("SELECT " + _TOP_PG + ", (SELECT value FROM setting WHERE key = 'clock')")
# On SQLite: the log's last event, LOG_TOP, what sync learned of the clock and the loan
# rules' stamp (memo), in one statement. The last event gives the position that follows
# and, when it is this device's own (a desk's loans and returns in a row), the head of
# its chain for the transaction's first event, which `_tail` would ask otherwise: each
# statement spared counts between a loan's two fsyncs.
_START = ("SELECT e.pos, e.hlc, e.origin, e.seq, e.hash, "
          "(SELECT value FROM setting WHERE key = 'log_top'), "
          "(SELECT value FROM setting WHERE key = 'clock'), "
          "(SELECT value FROM setting WHERE key = 'stamp:policy') "
          "FROM (SELECT 1) AS one LEFT JOIN event e ON e.pos = (SELECT MAX(pos) FROM event)")


def _observe_log(ctx):
    """Take in the highest HLC the log holds, under the write lock: another process (a
    `sync now`, a USB import, a second server) may have stored events stamped later than
    anything this one has seen, and what this transaction stamps, or counts as today,
    must come after them. A lookup at the end of the log (`log_top`). When sync has learned
    anew how far this device's clock is off (and may have stamped again events a wrong
    clock put in the future), the clock takes the new offset and the log's highest
    stamp as its own."""
    if isinstance(ctx.db, pw.SqliteDatabase):
        start = dialect.run(_START).fetchone()
        pos, _hlc, origin, seq, hash_, _kept, learned, stamp = start
        top = _top_of(start)
        if pos is None:  # an empty log
            _hold_start(ctx, stamp, ((0, GENESIS), 1))
        else:
            _hold_start(ctx, stamp, ((seq, hash_), pos + 1) if origin == ctx.origin else None)
    else:
        top, learned = dialect.run(_CLOCK_NOW).fetchone()
    if learned != ctx.clock.learned:
        clock_seen(ctx, json.loads(learned) if learned else {}, top or 0)
    elif top:
        ctx.clock.observe(top)


def _hold_start(ctx, stamp, tail):
    """Keep what the transaction read as it began for as long as it has written nothing
    (SQLite counts the rows each connection changes; no other connection writes while
    the write lock is held): the tail for its first event, the stamp for memo."""
    connection = dialect.connection()  # the one the statements run on
    changes = connection.total_changes

    def unchanged():
        return connection.total_changes == changes

    _writer.tail = (tail, unchanged) if tail is not None else None
    memo.hold({"policy": stamp}, unchanged)


def _start_tail():
    """(head, next position) as the transaction began, while it has written nothing."""
    held = _writer.tail
    return held[0] if held is not None and held[1]() else None


def clock_seen(ctx, value, top=None):
    """Give this process's clock the offset sync stored (`value`, clockfix.held())."""
    if top is None:
        top = log_top()
    offset = int(value.get("offset_ms") or 0) if isinstance(value, dict) else 0
    ctx.clock.rebase(top, offset)
    ctx.clock.learned = canonical_setting(value) if value else None


def canonical_setting(value):
    """A setting's value as its column holds it (models.JSONField)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _writing(ctx):
    """Whether this thread is inside `writing` with its transaction open."""
    return _writer.depth > 0 and ctx.db.in_transaction()


def _said_if_disk_full(error):
    """A full disk rolls the transaction back like any error; say so in words staff act
    on (DomainError), or return and let `error` go on as it is."""
    # SQLite rolls back by itself on SQLITE_FULL, so the error seen may be peewee's failed
    # ROLLBACK with the disk-full error as its context.
    causes: list[BaseException] = []
    x: BaseException | None = error
    while x is not None and len(causes) < 10:
        causes.append(x)
        x = x.__cause__ or x.__context__
    if any("disk is full" in str(x) for x in causes):
        raise DomainError("disk_full", N_("The disk is full: nothing was saved. Free some space "
                                          "(old backups) or call the town's support."),
                          http_status=507) from error


# The append path runs on every loan: plain SQL here spares the query builder's cost.
COLUMNS = ("id", "pos", "origin", "seq", "hlc", "wall", "library", "kind", "body", "prev_hash",
           "hash", "relayed")


def command(fn):
    """A command validates and records under the write lock, so two desks cannot both
    see a copy on the shelf and both lend it."""
    @functools.wraps(fn)
    def run(ctx, *args, **kwargs):
        with writing(ctx):
            return fn(ctx, *args, **kwargs)
    return run


def head(origin):
    """(seq, hash) of the last event held from this origin."""
    row = dialect.run("SELECT seq, hash FROM event WHERE origin = ? ORDER BY seq DESC LIMIT 1",
                      (origin,)).fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)


def _next_pos():
    return (dialect.run("SELECT MAX(pos) FROM event").fetchone()[0] or 0) + 1


_TAIL = """SELECT e.seq, e.hash, m.pos FROM (SELECT MAX(pos) AS pos FROM event) m
    LEFT JOIN (SELECT seq, hash FROM event WHERE origin = ? ORDER BY seq DESC LIMIT 1) e
    ON 1 = 1"""


def _tail(origin):
    """head(origin) and the next position, in one statement: `record` runs on every loan."""
    seq, hash_, pos = dialect.run(_TAIL, (origin,)).fetchone()
    return (seq or 0, hash_ or GENESIS), (pos or 0) + 1


def _insert(d, pos):
    """Store one event and return it as a row (body as its canonical text)."""
    row = dict(d, pos=pos, relayed=False,
               body=d["body"] if isinstance(d["body"], str) else canonical(d["body"]))
    _store([row])
    return _event(row)


INSERT_CHUNK = 80  # rows per INSERT: 880 parameters, under every SQLite's limit
COPY_FROM = 20  # a batch this long goes into PostgreSQL by COPY: no statement to parse


@functools.cache
def _insert_sql(count):
    one = "(%s)" % ", ".join("?" * len(COLUMNS))
    return "INSERT INTO event (%s) VALUES %s" % (", ".join(COLUMNS), ", ".join([one] * count))


_values = operator.itemgetter(*COLUMNS)  # a row's values in COLUMNS order


def _store(rows):
    """Store event rows with as few statements as possible: on PostgreSQL each statement
    is a round trip."""
    if len(rows) >= COPY_FROM and dialect.is_postgres(Event._meta.database):
        dialect.copy_rows("event", COLUMNS, [[row[c] for c in COLUMNS] for row in rows])
        return
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start:start + INSERT_CHUNK]
        values = tuple(itertools.chain.from_iterable(map(_values, chunk)))
        dialect.run(_insert_sql(len(chunk)), values)


def _event(row):
    """An Event instance of a stored row, made without peewee's per-field bookkeeping."""
    ev = Event.__new__(Event)
    ev.__data__, ev._dirty, ev.__rel__ = row, set(), {}  # type: ignore[attr-defined]
    return ev


# The chain of a device's events that never leave it (a restricted document's): sync
# ships only the device's own origin (agent, usb), and the hub never holds this one.
LOCAL_SUFFIX = "~local"


def record(ctx, kind, body, library=None, local=False, io=None):
    """Append an event made here and apply it, in the caller's transaction or its own.
    `local`: in this device's local chain, which no sync ships. `io`: the projector's
    loan path when the command knows what it would look up (projector.lent_here)."""
    if not _writing(ctx):
        with writing(ctx):
            return record(ctx, kind, body, library, local, io)
    origin = ctx.origin + LOCAL_SUFFIX if local else ctx.origin
    # the tail read as the transaction began is of the device's own chain, not its local one
    (seq, prev), pos = (not local and _start_tail()) or _tail(origin)
    d = {"id": new_id(), "origin": origin, "seq": seq + 1, "hlc": ctx.clock.now(),
         "wall": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
         "library": library or ctx.library, "kind": kind, "prev_hash": prev}
    d["body"] = canonical(body)  # stored as hashed
    d["hash"] = _local_hash(d, d["body"])
    ev = _insert(d, pos)
    projector.apply(ctx, ev, body, io)
    return ev


SHAPE = {"id": str, "origin": str, "seq": int, "hlc": int, "wall": str, "library": str,
         "kind": str, "body": dict, "prev_hash": str, "hash": str}


def _checked(d):
    """Refuse an event that is malformed or does not match its hash; its body's canonical
    text (as it is stored) when it holds."""
    if not isinstance(d, dict) or any(not isinstance(d.get(k), t) for k, t in SHAPE.items()):
        raise Invalid("bad_event", N_("An event in the batch is malformed."))
    text = canonical(d["body"])
    if _hash_with(d, text) != d["hash"] and not (
            "erased_ok" in ERASURE and ERASURE["erased_ok"](d)):
        raise Invalid("bad_hash", N_("Event %(origin)s/%(seq)s does not match its hash."),
                      origin=d.get("origin"), seq=d.get("seq"))
    return text


def _follows(d, held):
    """Refuse an event whose place in its origin's chain is wrong."""
    seq, prev = held
    if d["seq"] != seq + 1 or d["prev_hash"] != prev:
        raise Invalid("chain_gap",
                      N_("Event %(origin)s/%(seq)s does not follow %(held)s held events."),
                      origin=d["origin"], seq=d["seq"], held=seq)


def _held(event_dicts):
    """{(origin, seq): hash} of the events of a batch already held: one query per origin."""
    spans: dict[str | None, tuple[int, int]] = {}
    for d in event_dicts:
        if isinstance(d, dict) and isinstance(d.get("seq"), int):
            low, high = spans.get(d.get("origin"), (d["seq"], d["seq"]))
            spans[d.get("origin")] = (min(low, d["seq"]), max(high, d["seq"]))
    held = {}
    for origin, (low, high) in spans.items():
        rows = dialect.run("SELECT seq, hash FROM event WHERE origin = ? AND seq BETWEEN ? AND ?",
                           (origin, low, high))
        held.update({(origin, seq): h for seq, h in rows})
    return held


class _Ingesting(threading.local):
    on = False  # inside `ingesting`'s own transaction


_ingesting = _Ingesting()
_SHARED, _POSITIONS, _ROWS = 7202, 7203, 7204  # advisory locks: writers, log order, rows


@contextmanager
def ingesting(ctx, names=None):
    """`writing` for a batch of events from elsewhere.

    On PostgreSQL, batches whose events name different rows (`projector.footprint`) are
    applied at once, each in its own transaction: each locks its rows' keys (sorted, in
    one statement, so two batches never wait on each other), shares the lock a command
    takes alone, and takes its place in the log last (`_take_positions`), held to its
    commit, so that positions follow commits and a replay in log order gives the same
    rows. Batches naming a row in common wait for each other. Without `names`, and on
    SQLite (one writer at a time anyway), it is `writing`."""
    if not names or _writing(ctx) or not dialect.is_postgres(ctx.db):
        with writing(ctx):
            yield
        return
    keys = sorted({_row_key(name) for name in names})
    try:
        with ctx.db.atomic():
            ctx.db.execute_sql("SELECT pg_advisory_xact_lock_shared(%s)", (_SHARED,))
            ctx.db.execute_sql("SELECT pg_advisory_xact_lock(%s, k) FROM unnest(%s) AS k",
                               (_ROWS, keys))
            _ingesting.on = True
            try:
                yield
            finally:
                _ingesting.on = False
    except (pw.OperationalError, sqlite3.OperationalError) as e:
        _said_if_disk_full(e)
        raise


def batch_writer(ctx):
    """The write a batch from elsewhere runs in: the transaction `ingesting` opened, or
    `writing`. Never `writing` inside `ingesting`: that would take the process lock while
    holding the shared database lock, the reverse of a command's order (a deadlock)."""
    return contextlib.nullcontext() if _ingesting.on else writing(ctx)


def _row_key(name):
    """A row's lock key: 32 bits of its name's hash (a collision only makes two batches
    wait for each other)."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=4).digest(),
                          "big", signed=True)


def _take_positions(ctx, rows):
    """Number rows in log order after every batch committed before; on PostgreSQL the
    lock that says so is held to the commit."""
    if dialect.is_postgres(ctx.db):
        dialect.run("SELECT pg_advisory_xact_lock(?)", (_POSITIONS,))
    pos = _next_pos()
    for row in rows:
        row["pos"] = pos
        pos += 1


def ingest(ctx, event_dicts, relayed=False, apply=True):
    """Apply events made elsewhere, all or nothing. Events already held are skipped.

    `relayed`: the events come through the hub, which sends a branch only what concerns
    it, so an origin's chain arrives with gaps: each event's hash is still checked.
    `apply=False` holds them in the log without applying them: the hub keeps there what
    the authority check refused (authority.Quarantine), so the origin's chain stays whole
    and its next event follows. `stored` lists the ids of the events newly held."""
    applied = skipped = 0
    heads, fresh, bodies = {}, [], []
    texts = [_checked(d) for d in event_dicts]  # shapes and hashes: before the write lock
    with batch_writer(ctx):
        held_hashes = _held(event_dicts)
        for d, text in zip(event_dicts, texts, strict=True):
            origin = d["origin"]
            if origin not in heads:
                heads[origin] = head(origin)
            held = held_hashes.get((origin, d["seq"]))
            if held:
                if held != d["hash"]:
                    raise Invalid("chain_fork",
                                  N_("Event %(origin)s/%(seq)s differs from the one held."),
                                  origin=origin, seq=d["seq"])
                skipped += 1
                continue
            if not relayed:
                _follows(d, heads[origin])
            fresh.append(dict(d, body=text, relayed=relayed))
            bodies.append(d["body"])
            heads[origin] = (d["seq"], d["hash"])
        stored = [_event(row) for row in fresh]  # the whole batch checked: apply it
        for row in fresh if apply else ():  # (never what the hub holds back)
            if row["kind"] in BESIDE:
                BESIDE[row["kind"]][1](row)
        for ev in stored:
            ctx.clock.observe(ev.hlc)
        if apply:
            projector.apply_all(ctx, list(zip(stored, bodies, strict=True)))
        before = None if dialect.is_postgres(ctx.db) else log_top()
        _take_positions(ctx, fresh)  # then give it its place in the log, and store it
        _store(fresh)
        if before is not None:
            _raise_top(before, fresh)
        if "after_store" in ERASURE:
            ERASURE["after_store"](fresh)
        applied = len(fresh)
    return {"applied": applied, "skipped": skipped, "stored": [row["id"] for row in fresh],
            "heads": {o: s for o, (s, _) in heads.items()}}


def since(origin, after_seq, limit=1000):
    return list(Event.select().where((Event.origin == origin) & (Event.seq > after_seq))
                .order_by(Event.seq).limit(limit))


def feed(after_pos, limit=1000, where=None):
    """Events in local application order after a cursor, for pulls and exports."""
    q = Event.select().where(Event.pos > after_pos)
    if where is not None:
        q = q.where(where)
    return list(q.order_by(Event.pos).limit(limit))


def pending_count(origin, acked_seq):
    return Event.select().where((Event.origin == origin) & (Event.seq > acked_seq)).count()


def _rights_hooks():
    """Patrons' keys travel beside their events; erased personal data is allowed to
    differ from its hash (core/rights)."""
    from .rights import erasure, keys

    BESIDE["patron.key"] = (keys.attach, keys.take)
    ERASURE.update(erased_ok=erasure.erased_ok, after_store=erasure.after_store)


_rights_hooks()
