"""The one function that turns an event into state rows.

Local events and events from the hub or other branches pass through `apply`, so
`thuvien rebuild` (replaying the log in order) gives the very same rows. Loans are
facts of the physical world: a contradiction is applied by a fixed rule and leaves a
Conflict row with both sides, never a dropped event. Record edits are
last-writer-wins per field by HLC; an edit whose value was lost without the winning
editor having seen it is kept in a Conflict. Whatever order the same events arrive in,
the rows come out the same (docs/sync.md, "Convergence", names the one case left)."""

import functools
import json
import uuid
from datetime import datetime, timezone
from typing import Any

import peewee as pw

from . import dialect, memo, search
from .clock import LIBRARY_TZ, unpack
from .lookups import OPEN_LOAN
from .models import (
    Bib,
    ClosedDay,
    Conflict,
    FieldEdit,
    HandIn,
    Hold,
    Item,
    Library,
    Loan,
    LoanRule,
    Patron,
    Stamp,
)
from .prepared import Prepared, by_key

LOAN = Prepared(Loan, lambda loan_id: Loan.select().where(Loan.id == loan_id), 1)
INSERT_LOAN = Prepared(Loan, lambda *v: Loan.insert(dict(zip(
    (Loan.id, Loan.item, Loan.patron, Loan.library, Loan.out_at, Loan.out_hlc, Loan.due_date,
     Loan.returned_at), v, strict=True))).on_conflict_ignore(), 8)
RETURN_LOAN = Prepared(Loan, lambda at, fee, loan_id: Loan.update(
    returned_at=at, fee=fee).where((Loan.id == loan_id) & Loan.returned_at.is_null()), 3)
# A second return of one loan keeps the earliest (at the same second, the lower fee):
# the same whichever arrives first.
EARLIER_RETURN = Prepared(Loan, lambda at, fee, loan_id, at_, at__, fee_: Loan.update(
    returned_at=at, fee=fee).where((Loan.id == loan_id) & (
        (Loan.returned_at > at_) | ((Loan.returned_at == at__) & (Loan.fee > fee_)))), 6)

# A copy's status, derived from what it is made of, in the order a reader needs it: a
# condition staff set (lost, damaged, withdrawn) says most, then an open loan, a ready
# hold, the way home after a return elsewhere. It is one function of those rows, run
# after every event that changes one of them, so no order of the same events can leave
# a different status (docs/sync.md, "Convergence"). `{transit}`: the copy's transit_to,
# or the value a statement is about to give it.
DERIVED_STATUS = """CASE WHEN item.condition <> 'available' THEN item.condition
    WHEN EXISTS (SELECT 1 FROM loan dl WHERE dl.item_id = item.id AND dl.returned_at IS NULL)
        THEN 'on_loan'
    WHEN EXISTS (SELECT 1 FROM hold dh WHERE dh.item_id = item.id AND dh.status = 'ready')
        THEN 'on_hold_shelf'
    WHEN {transit} IS NOT NULL THEN 'in_transit'
    ELSE 'available' END"""
_DERIVE = ("UPDATE item SET status = " + DERIVED_STATUS.format(transit="item.transit_to")
           + " WHERE id = ?")
_DERIVE_MANY = ("UPDATE item SET status = " + DERIVED_STATUS.format(transit="item.transit_to")
                + " WHERE id IN ({})")
STAFF_CONDITIONS = ("available", "lost", "damaged", "withdrawn")
# A hold only moves up this list, so its end is the same whichever event arrives first
# (a pickup beats a cancel made elsewhere at the same time).
HOLD_ORDER = ("waiting", "ready", "cancelled", "expired", "fulfilled")

_NS = uuid.UUID("6f1c3b1e-9c1a-4c57-9d55-746875766965")


def apply(ctx, ev, body=None):
    """Apply one event; `body` is its parsed body when the caller has it already."""
    body = json.loads(ev.body) if body is None else body
    handler = HANDLERS.get(ev.kind)
    if handler is None:  # from a newer version: kept in the log, applied after an upgrade
        return
    handler(ev, body)


# The rows each kind's handler reads or writes, by the body's keys that name them, for
# the kinds whose rows are all named so (a loan's renewal, an erased history, a hold's
# end or a rule reach rows through lookups). "fields.bib": the record a copy belongs to.
NAMED = {
    "loan.out": {"item": "item_id", "patron": "patron_id", "loan": "loan_id",
                 "hold": "hold_id"},
    "loan.in": {"item": "item_id", "loan": "loan_id"},
    "patron.saved": {"patron": "id"},
    "bib.saved": {"bib": "id"},
    "item.saved": {"item": "id", "bib": "fields.bib"},
    "item.received": {"item": "item_id"},
}


def footprint(event_dicts):
    """Names of the rows a batch of events reads or writes ("item:<id>"...), or None when
    one of its kinds reaches rows its body does not name. Two batches with no name in
    common give the same rows applied in either order (events.ingesting)."""
    names = set()
    for d in event_dicts:
        named = NAMED.get(str(d.get("kind"))) if isinstance(d, dict) else None
        body = d.get("body") if named else None
        if named is None or not isinstance(body, dict):
            return None
        for table, key in named.items():
            value = body.get(key) if key != "fields.bib" else (
                body.get("fields") or {}).get("bib")
            if value is not None:
                names.add(f"{table}:{value}")
    return names


def apply_all(ctx, pairs):
    """Apply (event, parsed body) pairs in order, with the rows `apply` would leave one by
    one: runs of loans and returns, and runs of record edits (most of what a branch
    sends), go set-wise through `Batched` and `Records`."""
    run, kind = [], None
    for ev, body in pairs:
        group = RUNS.get(ev.kind)
        if group is not None and group is kind:
            run.append((ev, body))
            continue
        _apply_run(kind, run)
        run, kind = [(ev, body)], group
        if group is None:
            _apply_run(None, run)
            run = []
    _apply_run(kind, run)


def _apply_run(group, run):
    # returns where the loan is not held are rare: their runs go one by one
    if group is None or len(run) < 2 or any(body.get("away") for _, body in run):
        for ev, body in run:
            apply(None, ev, body)
        return
    io = group([body for _, body in run])
    for ev, body in run:
        HANDLERS[ev.kind](ev, body, io)
    io.flush()


def _conflict(ev, kind, entity, details, other_event=None, io=None, key=None):
    """A conflict row. `key`: what names it whichever of its events arrives last (two
    loans of a copy, a loan), so every node holds it under one id; otherwise the event
    that alone makes it."""
    name = f"{kind}:{key}" if key is not None else f"{ev.id}:{kind}:"  # ids as before
    query = Conflict.insert(
        id=str(uuid.uuid5(_NS, name)), kind=kind, library=ev.library,
        entity=entity, event=ev.id, other_event=other_event, details=details,
        created_at=ev.wall).on_conflict_ignore()
    if io is None:
        query.execute()
    else:
        io.query(query)


# Records: last writer wins per field.

def _wins(hlc, value, stamp, held):
    """Whether a write at `hlc` beats the one held: the later clock, and on a tie (two
    devices can stamp the same instant) the greater value, so the order of arrival never
    decides."""
    if hlc != stamp:
        return hlc > stamp
    return _order_key(value) > _order_key(held)


def _order_key(value):
    return json.dumps(value, sort_keys=True, default=str)


def _merge(ev, model, key, body, create, io=None, derived=()):
    fields = {k: v for k, v in body["fields"].items()
              if k in model._meta.fields and k not in derived}
    base = body.get("base", {})
    row = by_key(model, key).first(body["id"]) if io is None else io.row(model, body["id"])
    if row is None:
        row = model(**{key: body["id"]}, **create(ev, body))
        for name, value in fields.items():
            setattr(row, name, value)
        row.field_hlc = {name: ev.hlc for name in fields}
        if io is None:
            row.save(force_insert=True)
        else:
            io.keep(row, new=True)
        return row
    stamps = dict(row.field_hlc or {})
    for name, value in fields.items():
        # the stored value (a copy's record as its id, not the record loaded)
        held, stamp = row.__data__.get(name), stamps.get(name, 0)
        if _wins(ev.hlc, value, stamp, held):
            setattr(row, name, value)
            stamps[name] = ev.hlc
    row.field_hlc = stamps
    if not _is_edit(body):  # a second first save (a library set up at two places)
        fields = {}
    edits = [FieldEdit(id=str(uuid.uuid5(_NS, f"{ev.id}:{name}")), model=model.__name__,
                       entity=body["id"], field=name, hlc=ev.hlc,
                       base=int(base.get(name) or 0), value=value, event=ev.id,
                       library=ev.library, at=body.get("at") or ev.wall)
             for name, value in fields.items()]
    owner = getattr(row, "library", None) or getattr(row, "code", None)
    if io is None:
        row.save()
        _edited(edits, owner)
    else:
        io.keep(row)
        io.edited(edits, owner)
    return row


def _is_edit(body):
    """Whether the event edits a record its editor held (rather than making it): said by
    `new` since it was added; before, an edit's base held a stamp of the record."""
    if "new" in body:
        return not body["new"]
    return any(body.get("base", {}).values())


def _edited(edits, owner):
    """Keep the edits, then work out the conflicts of the fields they wrote."""
    if not edits:
        return
    FieldEdit.insert_many([e.__data__ for e in edits]).on_conflict_ignore().execute()
    for edit in edits:
        edit_conflicts(edit.model, edit.entity, edit.field, owner)


def edit_conflicts(model_name, entity, field, owner):
    """The conflicts of one field of a record, from its edits alone: an edit whose value
    was lost — not the value that stands, and not one the standing edit's editor had
    seen (it follows from it through `base`) — is a conflict, named by that edit. The
    set is the same whichever order the edits came in; rows that no longer hold (a
    later edit was made having seen the lost value) go."""
    edits = list(FieldEdit.select().where((FieldEdit.entity == entity)
                                          & (FieldEdit.field == field)))
    final = max(edits, key=lambda e: (e.hlc, _order_key(e.value)))
    by_hlc: dict[int, list] = {}
    for edit in edits:
        by_hlc.setdefault(edit.hlc, []).append(edit)
    seen, stamp = set(), final.base
    while stamp in by_hlc and stamp not in seen:  # the edits the standing one follows
        seen.add(stamp)
        stamp = min(e.base for e in by_hlc[stamp])
    wanted = {}
    for edit in edits:
        if edit is final or edit.hlc in seen or edit.value == final.value:
            continue
        wanted[str(uuid.uuid5(_NS, f"edit_conflict:{edit.event}:{field}"))] = edit
    held = {c.id: c for c in Conflict.select().where(
        (Conflict.kind == "edit_conflict") & (Conflict.entity == entity))
        if c.details.get("field") == field}
    gone = [key for key in held if key not in wanted]
    if gone:
        Conflict.delete().where(Conflict.id << gone).execute()
    for key, edit in wanted.items():
        details = {"model": model_name, "field": field, "kept": final.value,
                   "lost": edit.value}
        if key in held:
            if held[key].details != details:
                Conflict.update(details=details).where(Conflict.id == key).execute()
            continue
        Conflict.insert(id=key, kind="edit_conflict", library=owner or edit.library,
                        entity=entity, event=edit.event, details=details,
                        created_at=edit.at).execute()


def _created(ev, body):
    return {"created_at": body.get("at") or ev.wall}


def library_saved(ev, body):
    memo.renew("policy")  # closed weekdays
    _merge(ev, Library, "code", body, lambda ev, body: {"name": body["fields"].get("name", "")})


def patron_saved(ev, body, io=None):
    _merge(ev, Patron, "id", body, lambda ev, body: dict(
        _created(ev, body), library=body["fields"].get("library", ev.library)), io)


def bib_saved(ev, body, io=None):
    bib = _merge(ev, Bib, "id", body, _created, io)
    if io is not None:
        bib.updated_hlc = max(bib.updated_hlc or 0, ev.hlc)
        io.keep(bib, indexed=bib.id)
        return
    Bib.update(updated_hlc=ev.hlc).where((Bib.id == bib.id) & (Bib.updated_hlc < ev.hlc)).execute()
    search.on_bib_changed(Bib._meta.database, bib.id)


def _ensure_bib(bib_id, ev, io=None):
    """An item may arrive before its record; a stub is filled in when the record comes."""
    if io is not None:
        if io.row(Bib, bib_id) is None:
            io.keep(Bib(id=bib_id, title="", created_at=ev.wall), new=True)
    elif not Bib.select().where(Bib.id == bib_id).exists():
        Bib.insert(id=bib_id, title="", created_at=ev.wall).execute()


# A copy's columns no edit writes: the projector derives them from loans and holds.
_ITEM_DERIVED = ("status", "transit_to", "transit_hlc")


def _item_body(body):
    """An edit of a copy as the projector reads it: before condition had its own field,
    staff set it as `status` (only ever one of STAFF_CONDITIONS)."""
    fields, base = body["fields"], body.get("base", {})
    if "status" not in fields:
        return body
    fields, base = dict(fields), dict(base)
    status = fields.pop("status")
    if status in STAFF_CONDITIONS and "condition" not in fields:
        fields["condition"] = status
        if "status" in base:
            base["condition"] = base.pop("status")
    return dict(body, fields=fields, base=base)


def item_saved(ev, body, io=None):
    body = _item_body(body)
    fields = body["fields"]
    if "bib" in fields:
        _ensure_bib(fields["bib"], ev, io)
    item = _merge(ev, Item, "id", body, lambda ev, body: {
        "accession_date": body.get("at", ev.wall)[:10],
        "library": body["fields"].get("library", ev.library)}, io, derived=_ITEM_DERIVED)
    if io is not None:
        io.keep(item, indexed=item.bib_id)
        return
    derive(item.id)
    search.on_bib_changed(Bib._meta.database, item.bib_id)


def derive(item_id):
    """Set a copy's status from its condition, loans, holds and transit."""
    _execute(_DERIVE, item_id)


class Records:
    """A run of record edits (records, copies, patron cards) from a batch, set-wise: the
    rows the run edits are fetched at once, edited here by the rules `_merge` applies one
    by one, and each written once by `flush` (many to a round trip on PostgreSQL); the
    search index is renewed after, once per record touched."""

    MODELS = {"bib.saved": Bib, "patron.saved": Patron, "item.saved": Item}

    def __init__(self, bodies):
        wanted: dict[Any, set] = {Bib: set(), Patron: set(), Item: set()}
        for body in bodies:
            for model in wanted:  # which model a body is for is not in it: ask them all
                wanted[model].add(body.get("id"))
            wanted[Bib].add(body.get("fields", {}).get("bib"))
        self.rows = {}
        for model, found in wanted.items():
            keys = sorted(k for k in found if isinstance(k, str))
            for start in range(0, len(keys), _IN_CHUNK):
                for row in model.select().where(model.id.in_(keys[start:start + _IN_CHUNK])):
                    self.rows[(model, row.id)] = row
        self.new, self.dirty = {}, {}  # (model, id) -> row, in the order first written
        self.writes, self.indexed = [], {}
        self.edits = []  # (FieldEdit, the record's library)
        self.reckoned = set()

    def row(self, model, key):
        return self.rows.get((model, key))

    def keep(self, row, new=False, indexed=None):
        """A row as an event left it, stored as the database gives it back (as `Direct`
        reads it again for the next event)."""
        model = type(row)
        for name, value in row.__data__.items():
            if value is not None:
                field = model._meta.fields[name]
                row.__data__[name] = field.python_value(field.db_value(value))
        key = (model, row.id)
        self.rows[key] = row
        if new:
            self.new[key] = row
        elif key not in self.new:
            self.dirty[key] = row
        if indexed is not None:
            self.indexed[indexed] = None

    def query(self, query):
        self.writes.append(query.sql())

    def edited(self, edits, owner):
        self.edits.extend((edit, owner) for edit in edits)

    def flush(self):
        statements = list(self.writes)
        for model in (Bib, Patron, Item):  # copies point at records
            rows = [row for (m, _), row in self.new.items() if m is model]
            names = [f.name for f in model._meta.sorted_fields]
            step = max(1, 800 // len(names))
            for start in range(0, len(rows), step):
                statements.append(model.insert_many(
                    [{n: row.__data__.get(n) for n in names} for row in rows[start:start + step]]
                ).sql())
        for (model, _), row in self.dirty.items():
            statements.append(model.update({f: row.__data__.get(f.name)
                                            for f in model._meta.sorted_fields
                                            if not f.primary_key}).where(
                model._meta.primary_key == row.id).sql())
        copies = [key for (model, key) in [*self.new, *self.dirty] if model is Item]
        for start in range(0, len(copies), _IN_CHUNK):  # their status, after the rows
            chunk = copies[start:start + _IN_CHUNK]
            statements.append((dialect.sql(_DERIVE_MANY.format(", ".join("?" * len(chunk)))),
                               tuple(chunk)))
        dialect.run_many(statements)
        for start in range(0, len(self.edits), _ROWS_PER_INSERT):
            FieldEdit.insert_many([edit.__data__ for edit, _ in self.edits[
                start:start + _ROWS_PER_INSERT]]).on_conflict_ignore().execute()
        for edit, owner in self.edits:  # the conflicts of each field edited, once
            if (edit.entity, edit.field) not in self.reckoned:
                self.reckoned.add((edit.entity, edit.field))
                edit_conflicts(edit.model, edit.entity, edit.field, owner)
        for bib_id in self.indexed:
            search.on_bib_changed(Bib._meta.database, bib_id)


def _anonymous(library, ev):
    """The library's stand-in for erased borrowers (made the same way everywhere)."""
    anon_id = str(uuid.uuid5(_NS, f"anonymous:{library}"))
    Patron.insert(id=anon_id, library=library, card=f"ANON-{anon_id[:8]}", name="—",
                  category="adult", created_at=ev.wall, deleted=True,
                  field_hlc={}).on_conflict_ignore().execute()
    return anon_id


def history_erased(ev, body):
    Loan.update(patron=_anonymous(ev.library, ev)).where(
        (Loan.patron == body["patron_id"]) & Loan.returned_at.is_null(False)
        & (Loan.returned_at <= body["before"])).execute()


# Circulation.

def _open_loan(item_id):
    return OPEN_LOAN.first(item_id)


# The loan path runs for every event a hub ingests: a few plain statements each
# (on PostgreSQL every statement is a round trip).
_LOAN_OUT_VIEW = """SELECT i.id, i.barcode, (SELECT p.id FROM patron p WHERE p.id = ?),
    l.id, l.out_hlc, l.out_at,
    (SELECT MIN(h.hlc) FROM hand_in h WHERE h.item = i.id AND h.hlc > ?)
    FROM item i LEFT JOIN loan l ON l.item_id = i.id AND l.returned_at IS NULL
    WHERE i.id = ?"""
# The copy's latest loan made before a clock, and the first made after one.
_LOAN_BEFORE = """SELECT id FROM loan WHERE item_id = ? AND out_hlc < ?
    ORDER BY out_hlc DESC, id DESC LIMIT 1"""
_NEXT_LOAN = "SELECT MIN(out_hlc) FROM loan WHERE item_id = ? AND out_hlc > ?"
_HANDINS = "SELECT hlc FROM hand_in WHERE item = ? AND hlc > ? AND hlc < ? ORDER BY hlc LIMIT 2"
_NO_LATER = (1 << 63) - 1
_END_LOAN = "UPDATE loan SET returned_at = ? WHERE id = ?"

# Where a copy travels: last writer wins by its clock, on a tie the greater value
# (parameters: hlc, hlc, value).
_TRANSIT_WINS = ("(item.transit_hlc < ? OR (item.transit_hlc = ? AND "
                 "COALESCE(item.transit_to, '') < COALESCE(?, '')))")
_NEW_TRANSIT = f"CASE WHEN {_TRANSIT_WINS} THEN ? ELSE item.transit_to END"
_NEW_TRANSIT_HLC = f"CASE WHEN {_TRANSIT_WINS} THEN ? ELSE item.transit_hlc END"


def _transit_params(hlc, transit):
    return (hlc, hlc, transit, transit)


# After a return: the copy's journey (if this return is the latest word on it) and its
# status, in one statement (parameters: _item_after_return).
_AFTER_RETURN = (f"UPDATE item SET transit_to = {_NEW_TRANSIT}, "
                 f"transit_hlc = {_NEW_TRANSIT_HLC}, status = "
                 + DERIVED_STATUS.format(transit=_NEW_TRANSIT) + " WHERE id = ?")


def _item_after_return(item_id, hlc, transit):
    return (*_transit_params(hlc, transit), hlc, hlc, transit, hlc,
            *_transit_params(hlc, transit), item_id)


# After a loan: the copy is here (no journey, if this loan is the latest word on it) and
# out on a loan, this one or one it collided with, unless staff marked it otherwise.
_ITEM_LENT = ("transit_to = " + _NEW_TRANSIT + ", transit_hlc = " + _NEW_TRANSIT_HLC
              + ", status = CASE WHEN item.condition <> 'available' THEN item.condition "
              "ELSE 'on_loan' END")
_AFTER_LOAN = f"UPDATE item SET {_ITEM_LENT} WHERE id = ?"


def _item_after_loan(item_id, hlc):
    return (*_transit_params(hlc, None), hlc, hlc, None, hlc, item_id)


# On the hub's PostgreSQL the loan and the copy's status go in one statement.
_LOAN_OUT_PG = """WITH new_loan AS (INSERT INTO loan (id, item_id, patron_id, library, out_at,
    out_hlc, due_date, returned_at, renewals, fee) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)
    ON CONFLICT DO NOTHING)
    UPDATE item SET """ + _ITEM_LENT + " WHERE id = ?"


def _execute(text, *params):
    return dialect.run(text, params)


class Direct:
    """What the loan path reads and writes, each statement run when asked: a desk's loan,
    an event alone, a rebuild."""

    def view(self, patron_id, item_id, hlc):
        """(item id, barcode, patron id or None, open loan's id, out_hlc, out_at, the first
        hand-in of the copy after `hlc` or None), or None when the copy is unknown."""
        return _execute(_LOAN_OUT_VIEW, patron_id, hlc, item_id).fetchone()

    def open_loan(self, item_id):
        standing = _open_loan(item_id)
        return standing.id if standing else None

    def loan_before(self, item_id, hlc):
        """The copy's latest loan made before clock `hlc` (open or returned), or None."""
        row = _execute(_LOAN_BEFORE, item_id, hlc).fetchone()
        return row[0] if row else None

    def handins_after(self, item_id, hlc):
        """The first two hand-ins of the copy after clock `hlc` and before its next loan."""
        later = _execute(_NEXT_LOAN, item_id, hlc).fetchone()[0]
        return [row[0] for row in _execute(_HANDINS, item_id, hlc, later or _NO_LATER)]

    def derive(self, item_id):
        derive(item_id)

    def returned(self, loan_id):
        """When a held loan was returned (None while open); `False` for a loan not held."""
        loan = LOAN.first(loan_id)
        return False if loan is None else loan.returned_at

    def close(self, at, fee, loan_id):
        """Return an open loan; whether it was open."""
        return RETURN_LOAN.execute(at, fee, loan_id).rowcount > 0

    def end(self, loan_id, at):
        """A standing loan ended by a later checkout of its copy elsewhere."""
        _execute(_END_LOAN, at, loan_id)

    def close_earlier(self, at, fee, loan_id):
        """A second return of a returned loan: the earlier of the two stands."""
        EARLIER_RETURN.execute(at, fee, loan_id, at, at, fee)

    def lend(self, values):
        """Store a loan (INSERT_LOAN's values): its copy is here, and out on a loan."""
        item_id, hlc = values[1], values[5]
        if dialect.is_postgres(Loan._meta.database):  # one round trip instead of two
            _execute(_LOAN_OUT_PG, *values, *_item_after_loan(item_id, hlc))
        else:
            INSERT_LOAN.execute(*values)
            _execute(_AFTER_LOAN, *_item_after_loan(item_id, hlc))

    def shelve(self, item_id, hlc, transit_to):
        """A returned copy: where it travels (latest word wins), and its status."""
        _execute(_AFTER_RETURN, *_item_after_return(item_id, hlc, transit_to))

    def hold_fulfilled(self, hold_id):
        """A loan that picks up a ready hold: the hold ends, and the copy it held (a
        copy other than the one lent, at times) leaves the hold shelf."""
        Hold.update(status="fulfilled").where(Hold.id == hold_id).execute()
        _execute(_DERIVE_HELD, hold_id)

    def query(self, query):
        query.execute()


DIRECT = Direct()


class Batched(Direct):
    """The loan path for a run of loan events from a batch, set-wise: what the run reads is
    fetched for the whole run in a few queries, the run's changes are kept here, and only
    the rows they end as are written by `flush` — a loan made and returned within the run
    is one INSERT, a copy lent and returned twenty times one UPDATE — sent many to a
    round trip on PostgreSQL. The rows are those the events make applied one by one
    through `Direct` (`verify` replays the log one by one and compares)."""

    def __init__(self, bodies):
        items, patrons, loans = set(), set(), set()
        for body in bodies:
            items.add(body.get("item_id"))
            patrons.add(body.get("patron_id"))
            loans.add(body.get("loan_id"))
        self.barcodes, self.transit = {}, {}
        for item_id, barcode, transit_to, transit_hlc in _fetch(
                "SELECT id, barcode, transit_to, transit_hlc FROM item WHERE id IN ({})", items):
            self.barcodes[item_id] = barcode
            self.transit[item_id] = (transit_hlc, transit_to)
        self.handins: dict[str, list] = {}
        for item_id, hlc in _fetch("SELECT item, hlc FROM hand_in WHERE item IN ({})", items):
            self.handins.setdefault(item_id, []).append(hlc)
        self.patrons = {row[0] for row in _fetch("SELECT id FROM patron WHERE id IN ({})",
                                                 patrons)}
        # loan id -> [item, returned_at, out_hlc, out_at]; item -> its open loans' ids
        self.loans: dict[str, list] = {}
        self.open: dict[str, list] = {}
        for text, keys in ((_LOANS_BY_ID, loans), (_OPEN_LOANS_OF, items)):
            for loan_id, item_id, returned_at, out_hlc, out_at in _fetch(text, keys):
                if loan_id not in self.loans:
                    self.loans[loan_id] = [item_id, returned_at, out_hlc, out_at]
                    if returned_at is None:
                        self.open.setdefault(item_id, []).append(loan_id)
        self.made = {}  # loan id -> the row of a loan this run makes
        self.changed = {}  # loan id -> {column: value} of a held loan this run changes
        self.touched = {}  # item id -> None: copies whose status is derived again at the end
        self.fulfilled = {}  # hold id -> None: holds a loan picked up
        self.writes = []  # other writes (conflicts, holds), in order

    def view(self, patron_id, item_id, hlc):
        if item_id not in self.barcodes:
            return None
        standing = (self.open.get(item_id) or [None])[0]
        _, _, out_hlc, out_at = self.loans[standing] if standing else (None,) * 4
        later = [h for h in self.handins.get(item_id, ()) if h > hlc]
        return (item_id, self.barcodes[item_id],
                patron_id if patron_id in self.patrons else None, standing, out_hlc, out_at,
                min(later) if later else None)

    def open_loan(self, item_id):
        return (self.open.get(item_id) or [None])[0]

    def handins_after(self, item_id, hlc):
        """As Direct's, with the loans this run made (a run holds no hand-ins of its own:
        `_apply_run` applies those one by one)."""
        later = [row[2] for row in self.loans.values() if row[0] == item_id and row[2] > hlc]
        stored = _execute(_NEXT_LOAN, item_id, hlc).fetchone()[0]
        bound = min([x for x in (*later, stored) if x is not None] or [_NO_LATER])
        return sorted(h for h in self.handins.get(item_id, ()) if hlc < h < bound)[:2]

    def derive(self, item_id):
        self.touched[item_id] = None  # derived at the end of the run

    def returned(self, loan_id):
        loan = self.loans.get(loan_id)
        return False if loan is None else loan[1]

    def close(self, at, fee, loan_id):
        loan = self.loans.get(loan_id)
        if loan is None or loan[1] is not None:
            return False  # RETURN_LOAN would match no row
        self._change(loan_id, returned_at=at, fee=fee)
        return True

    def close_earlier(self, at, fee, loan_id):
        loan = self.loans.get(loan_id)
        if loan is None or loan[1] is None:
            return
        held_fee = (self.made.get(loan_id) or self.changed.get(loan_id) or {}).get("fee")
        if held_fee is None:  # as stored: fetched when the run needs it
            held_fee = _fetch("SELECT id, fee FROM loan WHERE id IN ({})", [loan_id])[0][1]
        if (loan[1], held_fee) > (at, fee):
            self._change(loan_id, returned_at=at, fee=fee)

    def end(self, loan_id, at):
        self._change(loan_id, returned_at=at)

    def _change(self, loan_id, **columns):
        loan = self.loans[loan_id]
        if loan[1] is None and "returned_at" in columns:
            self.open[loan[0]].remove(loan_id)
        loan[1] = columns.get("returned_at", loan[1])
        (self.made.get(loan_id) or self.changed.setdefault(loan_id, {})).update(columns)

    def lend(self, values):
        loan_id, item_id, _, _, out_at, out_hlc, _, returned_at = values
        if loan_id not in self.loans:  # INSERT ... ON CONFLICT DO NOTHING
            self.loans[loan_id] = [item_id, returned_at, out_hlc, out_at]
            self.made[loan_id] = dict(zip(_LOAN_COLUMNS, (*values, 0, 0), strict=True))
            if returned_at is None:
                self.open.setdefault(item_id, []).append(loan_id)
        self._journey(item_id, out_hlc, None)

    def shelve(self, item_id, hlc, transit_to):
        self._journey(item_id, hlc, transit_to)

    def _journey(self, item_id, hlc, transit_to):
        """Where the copy travels, as _NEW_TRANSIT decides it."""
        held_hlc, held = self.transit.get(item_id, (0, None))
        if hlc > held_hlc or (hlc == held_hlc and (held or "") < (transit_to or "")):
            self.transit[item_id] = (hlc, transit_to)
        self.touched[item_id] = None

    def hold_fulfilled(self, hold_id):
        self.writes.append(Hold.update(status="fulfilled").where(Hold.id == hold_id).sql())
        self.fulfilled[hold_id] = None

    def query(self, query):
        self.writes.append(query.sql())

    def flush(self):
        rows = list(self.made.values())
        statements = list(self.writes)
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start:start + _ROWS_PER_INSERT]
            statements.append((dialect.sql(_insert_loans(len(chunk))),
                               tuple(row[c] for row in chunk for c in _LOAN_COLUMNS)))
        for loan_id, columns in self.changed.items():
            names = sorted(columns)
            statements.append((dialect.sql("UPDATE loan SET %s WHERE id = ?" % ", ".join(
                f"{name} = ?" for name in names)), (*(columns[n] for n in names), loan_id)))
        for item_id in self.touched:  # after the loans and holds it is derived from
            transit_hlc, transit_to = self.transit[item_id]
            statements.append((dialect.sql(_SET_JOURNEY), (
                transit_to, transit_hlc, transit_to, item_id)))
        statements.extend((dialect.sql(_DERIVE_HELD), (hold_id,)) for hold_id in self.fulfilled)
        dialect.run_many(statements)


_SET_JOURNEY = ("UPDATE item SET transit_to = ?, transit_hlc = ?, status = "
                + DERIVED_STATUS.format(transit="?") + " WHERE id = ?")
_DERIVE_HELD = ("UPDATE item SET status = " + DERIVED_STATUS.format(transit="item.transit_to")
                + " WHERE id = (SELECT item_id FROM hold WHERE id = ?)")


_LOAN_COLUMNS = ("id", "item_id", "patron_id", "library", "out_at", "out_hlc", "due_date",
                 "returned_at", "renewals", "fee")
_ROWS_PER_INSERT = 80  # 800 parameters, under every SQLite's limit


@functools.cache
def _insert_loans(count):
    one = "(%s)" % ", ".join("?" * len(_LOAN_COLUMNS))
    return "INSERT INTO loan (%s) VALUES %s" % (", ".join(_LOAN_COLUMNS),
                                                 ", ".join([one] * count))


_LOANS_BY_ID = "SELECT id, item_id, returned_at, out_hlc, out_at FROM loan WHERE id IN ({})"
_OPEN_LOANS_OF = """SELECT id, item_id, returned_at, out_hlc, out_at FROM loan
    WHERE item_id IN ({}) AND returned_at IS NULL ORDER BY id"""
_IN_CHUNK = 500  # values per IN list: under every SQLite's parameter limit


def _fetch(text, values):
    values = sorted(v for v in values if isinstance(v, str))
    rows = []
    for start in range(0, len(values), _IN_CHUNK):
        chunk = values[start:start + _IN_CHUNK]
        rows.extend(dialect.run(text.format(", ".join("?" * len(chunk))), chunk).fetchall())
    return rows


def loan_out(ev, body, io=DIRECT):
    row = io.view(body["patron_id"], body["item_id"], ev.hlc)
    if row is None or row[2] is None:
        _conflict(ev, "unknown_reference", body["loan_id"], {"event": body}, io=io)
        return
    item_id, barcode, patron_id, standing_id, standing_hlc, standing_at, handed_in = row
    returned_at = None
    if standing_id is not None and standing_id != body["loan_id"]:
        # One copy cannot be at two places: the later checkout stands.
        if ev.hlc > standing_hlc:
            io.end(standing_id, body["at"])
        else:
            returned_at = standing_at
        loans = sorted([standing_id, body["loan_id"]])
        _conflict(ev, "loaned_twice", item_id, {
            "item": barcode, "loans": loans,
            "open": body["loan_id"] if returned_at is None else standing_id},
            io=io, key=":".join(loans))
    handins = io.handins_after(item_id, ev.hlc) if handed_in and returned_at is None else []
    if handins:  # handed in where the loan was not held, after it was made: that came first
        returned_at = hlc_time(handins[0])
    io.lend((body["loan_id"], item_id, patron_id, body["library"], body["at"], ev.hlc,
             body["due_date"], returned_at))
    if handins:
        io.derive(item_id)
    if len(handins) > 1:  # handed in twice: as the second would say, had it come after
        _conflict(ev, "returned_not_on_loan", item_id, {
            "loan_id": body["loan_id"], "returned_twice": True}, io=io, key=body["loan_id"])
    if body.get("hold_id"):
        io.hold_fulfilled(body["hold_id"])


def hlc_time(hlc):
    """The library's local time of a clock, to the second: when a copy was handed in at
    another library, as every node can tell it from the return's clock alone (the
    loan's return may be reckoned before its return event is held)."""
    seconds = unpack(hlc)[0] // 1000
    return datetime.fromtimestamp(seconds, timezone.utc).astimezone(LIBRARY_TZ).isoformat(
        timespec="seconds")


def loan_in(ev, body, io=DIRECT):
    if body.get("away") and not body.get("loan_id"):
        _away_in(ev, body, io)
        return
    loan_id = body.get("loan_id")
    if not loan_id:  # a return the returning desk could not match to a loan
        loan_id = io.open_loan(body["item_id"])
    closed = loan_id and io.close(body["at"], body.get("fee", 0), loan_id)
    if not closed:
        earlier = io.returned(loan_id) if loan_id else False
        if earlier:  # returned twice: the earliest return stands, whichever came first
            io.close_earlier(body["at"], body.get("fee", 0), loan_id)
            # one conflict per loan, saying no more than every node knows of it (which
            # two of three returns met first depends on arrival); the loan shows the rest
            _conflict(ev, "returned_not_on_loan", body["item_id"], {
                "loan_id": loan_id, "returned_twice": True}, io=io, key=loan_id)
        else:
            _conflict(ev, "returned_not_on_loan", body["item_id"], {
                "loan_id": body.get("loan_id"), "at": body["at"], "earlier_return": None},
                io=io)
    io.shelve(body["item_id"], ev.hlc, body.get("transit_to"))


def _away_in(ev, body, io):
    """Another library's copy handed in where its loan is not held. It is kept (HandIn)
    and ends the copy's latest loan made before it, at the time of its clock and with no
    fee: as a return of that loan, a second return of it included (the earliest stands,
    one conflict). A loan that arrives later, made before it, comes in closed
    (loan_out). So the rows are the same whichever comes first. Where no loan of the
    copy is held (the branch that took it back) nothing else happens."""
    item_id = body["item_id"]
    HandIn.insert(id=ev.id, item=item_id, hlc=ev.hlc).on_conflict_ignore().execute()
    loan_id = io.loan_before(item_id, ev.hlc)
    if loan_id is not None:
        at = hlc_time(ev.hlc)
        if not io.close(at, 0, loan_id):
            io.close_earlier(at, 0, loan_id)
            _conflict(ev, "returned_not_on_loan", item_id, {
                "loan_id": loan_id, "returned_twice": True}, io=io, key=loan_id)
    io.shelve(item_id, ev.hlc, body.get("transit_to"))


def loan_renew(ev, body):
    """A renewal counts and extends the loan even when a return made elsewhere at the same
    time arrived first: counting and the later due date come out the same in any order
    (and a returned loan's fee was fixed at its return)."""
    loan = LOAN.first(body["loan_id"])
    if loan is None:
        _conflict(ev, "renewal_not_on_loan", body["loan_id"], {"event": body})
        return
    renewals = loan.renewals + 1
    Loan.update(due_date=max(loan.due_date, body["due_date"]), renewals=renewals).where(
        Loan.id == loan.id).execute()
    limit = body.get("max_renewals", renewals)
    if renewals > limit:  # one per loan, named by it: the first past the limit makes it
        _conflict(ev, "renewal_past_limit", loan.id, {
            "renewals": renewals, "max_renewals": limit}, key=loan.id)


def item_received(ev, body):
    """A copy returned elsewhere arrived home: no journey, unless a later word says so."""
    DIRECT.shelve(body["item_id"], ev.hlc, None)


# Holds.

def hold_placed(ev, body):
    Hold.insert(id=body["hold_id"], patron=body["patron_id"], bib=body["bib_id"],
                library=body["library"], placed_at=body["at"]).on_conflict_ignore().execute()


def _hold_moves_to(status):
    """The hold's status after `status` is asked: never back down HOLD_ORDER."""
    lower = HOLD_ORDER[:HOLD_ORDER.index(status)]
    return pw.Case(None, [(Hold.status.in_(lower), status)], Hold.status)


def hold_trapped(ev, body):
    Hold.update(status=_hold_moves_to("ready"), item=body["item_id"],
                pickup_by=body["pickup_by"]).where(Hold.id == body["hold_id"]).execute()
    derive(body["item_id"])


def _hold_ended(status):
    def handler(ev, body):
        hold = Hold.get_or_none(Hold.id == body["hold_id"])
        if hold is None:
            return
        Hold.update(status=_hold_moves_to(status)).where(Hold.id == hold.id).execute()
        if hold.item_id:
            derive(hold.item_id)
    return handler


# Policy and calendar.

def _latest(key, ev, body):
    """Whether this event is the latest word on a keyed row of settings (and if so, mark
    it so): an older one arriving after it changes nothing."""
    text = json.dumps(body, sort_keys=True, ensure_ascii=False)
    held = Stamp.get_or_none(Stamp.key == key)
    if held is not None and not _wins(ev.hlc, text, held.hlc, held.body):
        return False
    Stamp.insert(key=key, hlc=ev.hlc, body=text).on_conflict(
        conflict_target=[Stamp.key], update={Stamp.hlc: ev.hlc, Stamp.body: text}).execute()
    return True


def rule_saved(ev, body):
    rule_id = "|".join((body["library"], body["category"], body["item_type"]))
    if not _latest("rule:" + rule_id, ev, body):
        return
    memo.renew("policy")
    LoanRule.delete().where(LoanRule.id == rule_id).execute()
    if not body.get("deleted"):
        LoanRule.insert(id=rule_id, **{k: body[k] for k in (
            "library", "category", "item_type", "loan_days", "max_loans", "max_renewals",
            "holds_allowed", "fee_per_day")}, **{k: body[k] for k in (  # newer settings:
                "renew_window_days", "block_overdue_days", "block_overdue_items")  # NULL before
                if k in body}).execute()


def calendar_saved(ev, body):
    day_id = f"{body['library']}|{body['day']}"
    if not _latest("day:" + day_id, ev, body):
        return
    memo.renew("policy")
    ClosedDay.delete().where(ClosedDay.id == day_id).execute()
    if body.get("closed", True):
        ClosedDay.insert(id=day_id, library=body["library"], day=body["day"],
                         reason=body.get("reason")).execute()


def conflict_resolved(ev, body):
    Conflict.update(status="resolved", resolution=body.get("resolution")).where(
        Conflict.id == body["conflict_id"]).execute()


RUNS = {"loan.out": Batched, "loan.in": Batched, **dict.fromkeys(Records.MODELS, Records)}

HANDLERS = {
    "library.saved": library_saved,
    "patron.saved": patron_saved,
    "patron.history_erased": history_erased,
    "bib.saved": bib_saved,
    "item.saved": item_saved,
    "item.received": item_received,
    "loan.out": loan_out,
    "loan.in": loan_in,
    "loan.renew": loan_renew,
    "hold.placed": hold_placed,
    "hold.trapped": hold_trapped,
    "hold.cancelled": _hold_ended("cancelled"),
    "hold.expired": _hold_ended("expired"),
    "rule.saved": rule_saved,
    "calendar.saved": calendar_saved,
    "conflict.resolved": conflict_resolved,
}
