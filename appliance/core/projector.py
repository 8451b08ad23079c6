"""The one function that turns an event into state rows.

Local events and events from the hub or other branches pass through `apply`, so
`thuvien rebuild` (replaying the log in order) gives the very same rows. Loans are
facts of the physical world: a contradiction is applied by a fixed rule and leaves a
Conflict row with both sides, never a dropped event. Record edits are
last-writer-wins per field by HLC; an edit whose value was lost without the winning
editor having seen it is kept in a Conflict. Whatever order the same events arrive in,
the rows come out the same (docs/sync.md, "Convergence")."""

import bisect
import functools
import json
import uuid
from collections.abc import Iterable
from typing import Any, cast

import peewee as pw

from . import dialect, findkeys, memo, search
from .clock import local_time, unpack
from .digital import project as digital_project
from .fees import projection as fees_projection
from .lookups import OPEN_LOAN
from .models import (
    Bib,
    ClosedDay,
    Conflict,
    Event,
    FieldEdit,
    HandIn,
    HistoryErasure,
    Hold,
    InLibraryUse,
    Item,
    Library,
    Loan,
    LoanRule,
    Patron,
    Stamp,
    Visit,
    VisitTally,
)
from .prepared import Prepared, by_key
from .requests import projection as request_projection
from .rights import history as rights_history
from .rights import keys as rights_keys
from .rights import projection as rights_projection
from .stocktake import projection as stocktake_projection
from .training import projection as training_projection

LOAN = Prepared(Loan, lambda loan_id: Loan.select().where(Loan.id == loan_id), 1)
INSERT_LOAN = Prepared(Loan, lambda *v: Loan.insert(dict(zip(
    (Loan.id, Loan.item, Loan.patron, Loan.library, Loan.out_at, Loan.out_hlc, Loan.due_date,
     Loan.returned_at), v, strict=True))).on_conflict_ignore(), 8)


def _return_loan(at, fee, hlc, loan_id):
    # a reading history the patron erased up to this return's clock (core/rights) takes
    # the loan from them in the same statement
    erased = HistoryErasure.select(HistoryErasure.anonymous).where(
        (HistoryErasure.patron == Loan.patron) & (HistoryErasure.before_hlc >= hlc))
    return Loan.update(returned_at=at, fee=fee, return_hlc=hlc,
                       patron=pw.fn.COALESCE(erased, Loan.patron)).where(
        (Loan.id == loan_id) & Loan.returned_at.is_null())


# The first return of an open loan: its end, its fee and its return clock.
RETURN_LOAN = Prepared(Loan, _return_loan, 4)

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
# A hold filled by another library's copy is `in_transit` while the copy travels to it.
HOLD_ORDER = ("waiting", "in_transit", "ready", "cancelled", "expired", "fulfilled")

_NS = uuid.UUID("6f1c3b1e-9c1a-4c57-9d55-746875766965")


def apply(ctx, ev, body=None, io=None):
    """Apply one event; `body` is its parsed body when the caller has it already. `io`:
    what the loan path reads and writes, when not `DIRECT` (`lent_here`)."""
    body = json.loads(ev.body) if body is None else body
    handler = HANDLERS.get(ev.kind)
    if handler is None:  # from a newer version: kept in the log, applied after an upgrade
        return
    if io is None:
        handler(ev, body)
    else:
        handler(ev, body, io)


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
    # returns where the loan is not held are rare: their runs go one by one, and so do
    # pickup loans, and record edits where a card or barcode is wanted by two (`_claim`)
    if group is None or len(run) < 2 or any(body.get("away") or body.get("pickup")
                                            for _, body in run) or (
            group is Records and _contested(run)):
        for ev, body in run:
            apply(None, ev, body)
        return
    io = group([body for _, body in run], [ev.hlc for ev, _ in run])
    for ev, body in run:
        HANDLERS[ev.kind](ev, body, io)
    io.flush()
    if group is Batched:  # returns within an erased reading history (core/rights)
        rights_history.recheck(body["item_id"] for ev, body in run if ev.kind == "loan.in")


def _conflict(ev, kind, entity, details, other_event=None, io=None, key=None):
    """A conflict row. `key`: what names it whichever of its events arrives last (two
    loans of a copy, a loan), so every node holds it under one id; otherwise the event
    that alone makes it."""
    name = f"{kind}:{key}" if key is not None else f"{ev.id}:{kind}:"  # ids as before
    conflict_id = str(uuid.uuid5(_NS, name))
    query = Conflict.insert(
        id=conflict_id, kind=kind, library=ev.library,
        entity=entity, event=ev.id, other_event=other_event, details=details,
        created_at=ev.wall, **_resolved_as(conflict_id)).on_conflict_ignore()
    if io is None:
        query.execute()
    else:
        io.query(query)


def _resolved_as(conflict_id):
    """Staff's choice already made on a conflict (the latest `conflict.resolved` by clock,
    kept in Stamp): a conflict made after the choice arrived, or made again after the
    edits that made it stopped holding for a while, is resolved as chosen, so the order
    its events and the choice came in never decides whether it shows as open."""
    held = Stamp.get_or_none(Stamp.key == "conflict:" + conflict_id)
    if held is None:
        return {}
    body = json.loads(held.body)
    return {"status": "resolved", "resolution": body.get("resolution"),
            "resolved_by": body.get("actor"), "resolved_at": body.get("at")}


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


def _row_of(model, key, record_id, io=None):
    """The row a record event names, as held here (None: not held)."""
    return by_key(model, key).first(record_id) if io is None else io.row(model, record_id)


_UNREAD = object()  # `_merge`'s row not read yet by its caller


def _merge(ev, model, key, body, create, io=None, derived=(), row=_UNREAD):
    fields = {k: v for k, v in body["fields"].items()
              if k in model._meta.fields and k not in derived}
    base = body.get("base", {})
    if row is _UNREAD:
        row = _row_of(model, key, body["id"], io)
    if row is None:
        row = model(**{key: body["id"]}, **create(ev, body))
        for name, value in fields.items():
            setattr(row, name, value)
        row.field_hlc = {name: ev.hlc for name in fields}
        findkeys.keep_keys(row)
        if io is None:
            settled = _claim(row, None)
            row.save(force_insert=True)
            settled()
        else:
            io.keep(row, new=True)
        return row
    # (set-wise, a number is never contested: `_contested`; a row set aside stays so)
    before, old_stamps = (_wanted(row) if io is None else None), row.field_hlc or {}
    stamps = dict(row.field_hlc or {})
    for name, value in fields.items():
        # the stored value (a copy's record as its id, not the record loaded)
        held, stamp = row.__data__.get(name), stamps.get(name, 0)
        if _wins(ev.hlc, value, stamp, held):
            setattr(row, name, value)
            stamps[name] = ev.hlc
    row.field_hlc = stamps
    findkeys.keep_keys(row)
    if not _is_edit(body):  # a second first save (a library set up at two places)
        fields = {}
    edits = [FieldEdit(id=str(uuid.uuid5(_NS, f"{ev.id}:{name}")), model=model.__name__,
                       entity=body["id"], field=name, hlc=ev.hlc,
                       base=int(base.get(name) or 0), value=value, event=ev.id,
                       library=ev.library, at=body.get("at") or ev.wall)
             for name, value in fields.items()]
    owner = getattr(row, "library", None) or getattr(row, "code", None)
    if io is None:
        settled = _claim(row, before, old_stamps)
        row.save()
        settled()
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


# Cards and barcodes: unique in their library. Two desks apart can give one number to
# two new patrons (or copies); where their events meet, the one that held the number
# first by clock (the stamp of its write, then its id) keeps it, and the other is kept
# too, with the number set aside as one no desk accepts (a "~", which cards and barcodes
# never hold), and a conflict for staff to give it a new one. Which number a set-aside
# row wanted is kept in Stamp, so it takes it back when the holder lets it go. One
# function of the rows held, so every order of arrival gives the same rows.
UNIQUE = {"Patron": ("card", "card_taken"), "Item": ("barcode", "barcode_taken")}
_ASIDE = "~"


def set_aside(number, row_id):
    """The number a row holds while another holds the one it wanted (fits 32 places)."""
    return f"{number[:24]}{_ASIDE}{row_id[:7]}"


def _aside_key(row):
    return f"aside:{type(row).__name__}:{row.id}"


def _wanted(row):
    """(library, number) a row wants, its number restored in memory if set aside; None
    for a record without a unique number."""
    unique = UNIQUE.get(type(row).__name__)
    if unique is None:
        return None
    number = row.__data__.get(unique[0]) or ""
    if _ASIDE in number:
        held = Stamp.get_or_none(Stamp.key == _aside_key(row))
        number = held.body if held is not None else number
        row.__data__[unique[0]] = number
        row.was_aside = True
    return (row.library, number)


def _claim(row, before, old_stamps=None):
    """Settle who holds the number `row` now wants and the one it wanted `before`: the
    others' rows are written here, losers now (so `row` can be saved) and a winner by
    the function returned (after `row` is saved, which may free its number)."""
    now = _wanted(row)
    if now is None:
        return lambda: None
    model, (field, kind) = type(row), UNIQUE[type(row).__name__]
    if before == now and not getattr(row, "was_aside", False) and old_stamps is not None \
            and old_stamps.get(field) == (row.field_hlc or {}).get(field):
        return lambda: None  # its number, held as before by the same write
    stored: dict[str, str] = {}  # id -> the number a row holds in the database
    groups = {key: _wanting(model, field, key, row, stored) for key in {now, before} - {None}}
    if all(members == [row] for members in groups.values()) and before in (now, None) \
            and not getattr(row, "was_aside", False):
        return lambda: None  # the number is its own, as it was: nothing to settle
    after, valid, touched = [], [], {row.id}
    for (_library, number), members in groups.items():
        touched.update(m.id for m in members)
        ranked = sorted(members, key=lambda m: ((m.field_hlc or {}).get(field, 0), m.id))
        for member in ranked:
            keeps = member is ranked[0]
            value = number if keeps else set_aside(number, member.id)
            _keep_aside(member, None if keeps else number)
            if not keeps:
                valid.append(_taken_conflict(member, ranked[0], field, kind, number))
            setattr(member, field, value)
            findkeys.keep_keys(member)
            if member is not row and stored[member.id] != value:
                (after.append(member) if keeps else member.save())
    stale = Conflict.delete().where((Conflict.kind == kind) & (Conflict.entity << sorted(touched)))
    (stale.where(Conflict.id.not_in(valid)) if valid else stale).execute()
    return lambda: [member.save() for member in after]


def _wanting(model, field, key, row, stored):
    """The rows of a library that want a number (`key`): `row` if it does, the one
    holding it, and those set aside from it."""
    library, number = key
    aside = [k.split(":")[-1] for k in Stamp.select(Stamp.key).where(
        Stamp.key.startswith(f"aside:{model.__name__}:") & (Stamp.body == number)).scalars()]
    # Each side of the OR whole, so that each is sought by its own index: with the library
    # outside it, SQLite read every copy of the library for each copy saved.
    wanting = (model.library == library) & (getattr(model, field) == number)
    if aside:
        wanting |= (model.library == library) & model.id.in_(aside)
    members = []
    for m in model.select().where(wanting & (model.id != row.id)):
        stored[m.id] = getattr(m, field)
        if _wanted(m) == key:
            members.append(m)
    return members + [row] if _wanted(row) == key else members


def _contested(run):
    """Whether a run of record edits gives or takes a card or barcode another row of its
    library wants (or one set aside): then `_claim` settles it, event by event."""
    for model in (Patron, Item):
        field = UNIQUE[model.__name__][0]
        bodies = [(ev, body) for ev, body in run if Records.MODELS[ev.kind] is model
                  and ({field, "library"} & set(body.get("fields", {})))]
        if not bodies:
            continue
        ids = sorted({str(body["id"]) for _, body in bodies})
        held = {row.id: row for row in model.select().where(model.id.in_(ids))}
        wanted: dict = {}  # (library, number) -> the ids that want it or let it go
        for ev, body in bodies:
            row, fields = held.get(body["id"]), body["fields"]
            library = fields.get("library") or (row.library if row else ev.library)
            for key in {(library, fields.get(field) or getattr(row, field, None)),
                        (row.library, getattr(row, field)) if row else None} - {None}:
                wanted.setdefault(key, set()).add(body["id"])
        numbers = sorted({number for _, number in wanted if number})
        for row in model.select(model.id, model.library, getattr(model, field)).where(
                getattr(model, field).in_(numbers)):
            wanted.setdefault((row.library, getattr(row, field)), set()).add(row.id)
        if any(len(who) > 1 for who in wanted.values()) or Stamp.select().where(
                Stamp.key.in_([f"aside:{model.__name__}:{i}" for i in ids])
                | (Stamp.key.startswith(f"aside:{model.__name__}:")
                   & Stamp.body.in_(numbers))).exists():
            return True
    return False


def _keep_aside(row, number):
    if number is None:
        Stamp.delete().where(Stamp.key == _aside_key(row)).execute()
        return
    Stamp.insert(key=_aside_key(row), hlc=0, body=number).on_conflict(
        conflict_target=[Stamp.key], update={Stamp.body: number}).execute()


def _taken_conflict(loser, holder, field, kind, number):
    """The conflict of a row set aside, named by the row and the number, the same on every
    node; when the holder changes its details do."""
    conflict_id = str(uuid.uuid5(_NS, f"{kind}:{loser.id}:{number}"))
    details = {"model": type(loser).__name__, "field": field, "number": number,
               "holder": holder.id}
    held = Conflict.get_or_none(Conflict.id == conflict_id)
    if held is None:
        Conflict.insert(id=conflict_id, kind=kind, library=loser.library, entity=loser.id,
                        event="", details=details,
                        created_at=hlc_time((loser.field_hlc or {}).get(field, 0)),
                        **_resolved_as(conflict_id)).execute()
    elif held.details != details:
        Conflict.update(details=details).where(Conflict.id == conflict_id).execute()
    return conflict_id


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
                        created_at=edit.at, **_resolved_as(key)).execute()


def _created(ev, body):
    return {"created_at": body.get("at") or ev.wall}


def library_saved(ev, body):
    memo.renew("policy")  # closed weekdays
    _merge(ev, Library, "code", body, lambda ev, body: {"name": body["fields"].get("name", "")})


def patron_saved(ev, body, io=None):
    held = _row_of(Patron, "id", body["id"], io)
    body = rights_keys.readable(body, new=held is None)
    if body is None:  # an erased card: nothing arriving later changes it
        return
    if held is None and _is_edit(body):
        # An edit of a card never held here, which names only the fields it changed (no
        # row can be made of it: a card needs a name). Every card's first save goes to
        # every branch before its edits; the one card made without an event is a
        # library's stand-in for erased reading histories (rights/history.py), made
        # where that library's erasures are applied (its desks and the hub), so another
        # library's branch holds no such row and has nothing to edit.
        return
    _merge(ev, Patron, "id", body, lambda ev, body: dict(
        _created(ev, body), library=body["fields"].get("library", ev.library)), io, row=held)


def bib_saved(ev, body, io=None):
    bib = _merge(ev, Bib, "id", body, _created, io)
    if io is not None:
        bib.updated_hlc = max(bib.updated_hlc or 0, ev.hlc)
        io.keep(bib, indexed=bib.id)
        return
    Bib.update(updated_hlc=ev.hlc).where((Bib.id == bib.id) & (Bib.updated_hlc < ev.hlc)).execute()
    search.on_bib_changed(Bib._meta.database, bib.id)


def _ensure_bib(bib_id, ev, io=None):
    """The record a copy belongs to, by the id it was saved with: that record, or the one
    it was merged into (merge.py). An item may arrive before its record; a stub is
    filled in when the record comes."""
    if io is not None:
        row = io.row(Bib, bib_id)
        if row is None:
            io.keep(Bib(id=bib_id, title="", created_at=ev.wall), new=True)
            return bib_id
        return current_bib(row.merged_into) if row.merged_into else bib_id
    merged = Bib.select(Bib.merged_into).where(Bib.id == bib_id).tuples().first()
    if merged is None:
        Bib.insert(id=bib_id, title="", created_at=ev.wall).execute()
        return bib_id
    return current_bib(merged[0]) if merged[0] else bib_id


def current_bib(bib_id):
    """The record `bib_id` stands for now: itself, or the end of the chain of merges it
    was retired by (bounded, should two merges have made a loop)."""
    for _step in range(32):
        merged = Bib.select(Bib.merged_into).where(Bib.id == bib_id).tuples().first()
        if not merged or not merged[0] or merged[0] == bib_id:
            break
        bib_id = merged[0]
    return bib_id


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
        into = _ensure_bib(fields["bib"], ev, io)
        if into != fields["bib"]:  # saved on a record merged since: it goes to the kept one
            body = dict(body, fields=dict(fields, bib=into))
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

    def __init__(self, bodies, hlcs=()):
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


# Circulation.
#
# A copy's loans stand in one line, in (out_hlc, id) order: the same on every node,
# whatever order they arrived in. A loan ends at its earliest return by clock (its
# return clock, `return_hlc`), unless the next loan of the copy in that line was made
# before that return, or with no return yet: then the copy was lent again while this
# loan was still out (two desks that had not heard of each other), the later checkout
# stands, this loan ends when the next began, and the pair is a `loaned_twice`
# conflict. A loan that arrives late takes its place in the line, and a pair it comes
# between is no longer one. So a loan's end and the pairs are one function of the loans
# and returns held, however they came (docs/sync.md, "Convergence").

def _open_loan(item_id):
    return OPEN_LOAN.first(item_id)


class Held:
    """A loan as the loan path reads it."""

    __slots__ = ("id", "item_id", "out_hlc", "out_at", "returned_at", "return_hlc", "fee")
    id: str
    item_id: str
    out_hlc: int
    out_at: str
    returned_at: str | None
    return_hlc: int | None
    fee: int

    def __init__(self, *values):
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)

    def key(self):
        return (self.out_hlc, self.id)


_HELD = "{0}.id, {0}.item_id, {0}.out_hlc, {0}.out_at, {0}.returned_at, {0}.return_hlc, {0}.fee"
_WIDTH = len(Held.__slots__)


def _held(values):
    return Held(*values) if values and values[0] is not None else None


# The loans next to a place in a copy's line: the one before it and the one after it.
_BEFORE = """SELECT b.id FROM loan b WHERE b.item_id = {item} AND (b.out_hlc < {hlc}
    OR (b.out_hlc = {hlc} AND b.id < {id})) ORDER BY b.out_hlc DESC, b.id DESC LIMIT 1"""
_AFTER = """SELECT a.id FROM loan a WHERE a.item_id = {item} AND (a.out_hlc > {hlc}
    OR (a.out_hlc = {hlc} AND a.id > {id})) ORDER BY a.out_hlc, a.id LIMIT 1"""
# A loan about to be made: its copy, its borrower, and its neighbours in the line, in
# one statement (asked when _LOAN_OUT_SEEN says a neighbour matters).
_LOAN_OUT_VIEW = ("SELECT i.id, i.barcode, (SELECT p.id FROM patron p WHERE p.id = ?), "
                  + _HELD.format("pl") + ", " + _HELD.format("nl") + " FROM item i "
                  "LEFT JOIN loan pl ON pl.id = (" + _BEFORE.format(item="i.id", hlc="?", id="?")
                  + ") LEFT JOIN loan nl ON nl.id = ("
                  + _AFTER.format(item="i.id", hlc="?", id="?") + ") WHERE i.id = ?")
# What a desk's loan asks first, in one statement: the copy, its borrower, and whether
# any loan of the copy could be this loan's neighbour that matters — one open, one
# returned later by clock, or one later in the line (a loan the next one ended, with no
# return, matters only with that next one). Almost never: the loan is the latest and
# every earlier one came back before it, and then no more is asked (one pass over the
# copy's loans, no sort).
_LOAN_OUT_SEEN = """SELECT i.id, i.barcode, (SELECT p.id FROM patron p WHERE p.id = ?),
    EXISTS (SELECT 1 FROM loan l WHERE l.item_id = i.id
        AND (l.returned_at IS NULL OR l.return_hlc >= ? OR l.out_hlc >= ?)),
    EXISTS (SELECT 1 FROM hand_in h WHERE h.item = i.id AND h.hlc > ?)
    FROM item i WHERE i.id = ?"""
# A held loan and the next in its copy's line.
_LOAN_AND_NEXT = ("SELECT " + _HELD.format("l") + ", " + _HELD.format("nl") + " FROM loan l "
                  "LEFT JOIN loan nl ON nl.id = ("
                  + _AFTER.format(item="l.item_id", hlc="l.out_hlc", id="l.id")
                  + ") WHERE l.id = ?")
# A copy handed in where its loan is not held (HandIn) is a return of the last loan in
# its line made before it: that loan, and the hand-ins between a loan and the next.
_LOAN_BEFORE = """SELECT id FROM loan WHERE item_id = ? AND out_hlc < ?
    ORDER BY out_hlc DESC, id DESC LIMIT 1"""
_HANDINS = "SELECT hlc FROM hand_in WHERE item = ? AND hlc > ? AND hlc < ? ORDER BY hlc LIMIT 2"
_NO_LATER = (1 << 63) - 1

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
# out on this loan, unless staff marked it otherwise.
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

    def view(self, patron_id, item_id, hlc, loan_id):
        """(item id, barcode, patron id or None, the loan before and the loan after
        (hlc, loan_id) in the copy's line, whether a hand-in of the copy is later than
        `hlc`), or None when the copy is unknown."""
        row = _execute(_LOAN_OUT_SEEN, patron_id, hlc, hlc, hlc, item_id).fetchone()
        if row is None or not (row[3] or row[4]):  # unknown, or no neighbour that matters
            return None if row is None else (*row[:3], None, None, False)
        handed_in = row[4]
        row = _execute(_LOAN_OUT_VIEW, patron_id, hlc, hlc, loan_id, hlc, hlc, loan_id,
                       item_id).fetchone()
        return (*row[:3], _held(row[3:3 + _WIDTH]), _held(row[3 + _WIDTH:]), handed_in)

    def open_loan(self, item_id):
        standing = _open_loan(item_id)
        return standing.id if standing else None

    def close(self, at, fee, hlc, loan_id):
        """The first return of an open loan (an open loan has no return and no loan after
        it); whether it was open."""
        return RETURN_LOAN.execute(at, fee, hlc, loan_id).rowcount > 0

    def loan_before(self, item_id, hlc):
        """The last loan in the copy's line made before clock `hlc`, or None (asked by
        hand-ins only, which `_apply_run` applies one by one)."""
        row = _execute(_LOAN_BEFORE, item_id, hlc).fetchone()
        return row[0] if row else None

    def handins_between(self, item_id, hlc, after):
        """The first two hand-ins of the copy after clock `hlc` and before the loan
        `after` (the next in the line, or None)."""
        bound = after.out_hlc if after is not None else _NO_LATER
        return [row[0] for row in _execute(_HANDINS, item_id, hlc, bound)]

    def with_next(self, loan_id):
        """(the loan, the next in its copy's line or None), or None for a loan not held."""
        row = _execute(_LOAN_AND_NEXT, loan_id).fetchone()
        return None if row is None else (_held(row[:_WIDTH]), _held(row[_WIDTH:]))

    def update(self, loan, **columns):
        names = sorted(columns)
        _execute("UPDATE loan SET %s WHERE id = ?" % ", ".join(f"{n} = ?" for n in names),
                 *(columns[n] for n in names), loan.id)

    def lend(self, values):
        """Store a loan (INSERT_LOAN's values) and the copy's journey and status."""
        item_id, hlc, returned_at = values[1], values[5], values[7]
        if returned_at is not None:  # it arrived late: a loan after it ended it
            INSERT_LOAN.execute(*values)
            _execute(_AFTER_RETURN, *_item_after_return(item_id, hlc, None))
        elif dialect.is_postgres(Loan._meta.database):  # one round trip instead of two
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
        _fulfilment_ends_request(hold_id)

    def query(self, query):
        query.execute()


DIRECT = Direct()


class _LentHere(Direct):
    """A loan the desk makes now (circulation.checkout), applied as Direct does, without
    the lookup of its copy's line: the copy and the borrower were read in this write
    transaction, the copy with no open loan, and the event's clock is later than every
    clock the log holds (events.writing observed the highest), so later than every loan,
    return and hand-in of the copy, all of which carry a clock of the log. So no loan
    can be its neighbour that matters, which is what `view` would ask the database."""

    def __init__(self, barcode):
        self.barcode = barcode

    def view(self, patron_id, item_id, hlc, loan_id):
        return (item_id, self.barcode, patron_id, None, None, False)


def lent_here(barcode):
    """The loan path of a desk's loan of a copy read just now with no open loan
    (`_LentHere`); pass it to events.record."""
    return _LentHere(barcode)


class Batched(Direct):
    """The loan path for a run of loan events from a batch, set-wise: what the run reads is
    fetched for the whole run in a few queries, the run's changes are kept here, and only
    the rows they end as are written by `flush` — a loan made and returned within the run
    is one INSERT, a copy lent and returned twenty times one UPDATE — sent many to a
    round trip on PostgreSQL. The rows are those the events make applied one by one
    through `Direct` (`verify` replays the log one by one and compares): the same
    handlers decide, on the copies' lines held here."""

    def __init__(self, bodies, hlcs=()):
        items, patrons, named = set(), set(), set()
        for body in bodies:
            items.add(body.get("item_id"))
            patrons.add(body.get("patron_id"))
            named.add(body.get("loan_id"))
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
        # Each copy's line from the loan before the earliest place the run reaches (a new
        # loan's clock, a returned loan's own) to its end: every neighbour the run asks for.
        bound = min([h for h in hlcs if isinstance(h, int)]
                    + [row[2] for row in _fetch(_LOANS_BY_ID, named)], default=_NO_BOUND)
        self.loans: dict[str, Held] = {}
        self.lines: dict[str, list] = {}
        for row in _fetch(_LINE_TAILS, items, (bound,), (bound,)):
            self._hold(Held(*row))
        self.made = {}  # loan id -> the row of a loan this run makes
        self.changed = {}  # loan id -> None: held loans this run changes
        self.touched = {}  # item id -> None: copies whose status is derived again at the end
        self.fulfilled = {}  # hold id -> None: holds a loan picked up
        self.writes = []  # other writes (conflicts, holds), in order

    def _hold(self, loan):
        self.loans[loan.id] = loan
        bisect.insort(self.lines.setdefault(loan.item_id, []), loan.key())

    def _next(self, item_id, key):
        line = self.lines.get(item_id, [])
        at = bisect.bisect_right(line, key)
        return self.loans[line[at][1]] if at < len(line) else None

    def view(self, patron_id, item_id, hlc, loan_id):
        if item_id not in self.barcodes:
            return None
        line = self.lines.get(item_id, [])
        at = bisect.bisect_left(line, (hlc, loan_id))
        before = self.loans[line[at - 1][1]] if at else None
        return (item_id, self.barcodes[item_id],
                patron_id if patron_id in self.patrons else None, before,
                self._next(item_id, (hlc, loan_id)),
                any(h > hlc for h in self.handins.get(item_id, ())))

    def open_loan(self, item_id):
        line = self.lines.get(item_id)
        last = self.loans[line[-1][1]] if line else None
        return last.id if last is not None and last.returned_at is None else None

    def handins_between(self, item_id, hlc, after):
        """As Direct's, from the hand-ins read at the start (a run holds no hand-ins of
        its own: `_apply_run` applies those one by one)."""
        bound = after.out_hlc if after is not None else _NO_LATER
        return sorted(h for h in self.handins.get(item_id, ()) if hlc < h < bound)[:2]

    def close(self, at, fee, hlc, loan_id):
        loan = self.loans.get(loan_id)
        if loan is None or loan.returned_at is not None:
            return False  # RETURN_LOAN would match no row
        self.update(loan, returned_at=at, fee=fee, return_hlc=hlc)
        return True

    def with_next(self, loan_id):
        loan = self.loans.get(loan_id)
        return None if loan is None else (loan, self._next(loan.item_id, loan.key()))

    def update(self, loan, **columns):
        for name, value in columns.items():
            setattr(loan, name, value)
        if loan.id not in self.made:
            self.changed[loan.id] = None

    def lend(self, values):
        loan_id, item_id, _, _, out_at, out_hlc, _, returned_at = values
        if loan_id not in self.loans:  # INSERT ... ON CONFLICT DO NOTHING
            self._hold(Held(loan_id, item_id, out_hlc, out_at, returned_at, None, 0))
            self.made[loan_id] = values
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
        rows = []
        for loan_id, values in self.made.items():  # as the run left them
            loan = self.loans[loan_id]
            rows.append((*values[:7], loan.returned_at, 0, loan.fee, loan.return_hlc))
        statements = list(self.writes)
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            chunk = rows[start:start + _ROWS_PER_INSERT]
            statements.append((dialect.sql(_insert_loans(len(chunk))),
                               tuple(v for row in chunk for v in row)))
        for loan_id in self.changed:
            loan = self.loans[loan_id]
            statements.append((dialect.sql(_SET_END), (
                loan.returned_at, loan.return_hlc, loan.fee, loan_id)))
        for item_id in self.touched:  # after the loans and holds it is derived from
            transit_hlc, transit_to = self.transit[item_id]
            statements.append((dialect.sql(_SET_JOURNEY), (
                transit_to, transit_hlc, transit_to, item_id)))
        statements.extend((dialect.sql(_DERIVE_HELD), (hold_id,)) for hold_id in self.fulfilled)
        dialect.run_many(statements)
        for hold_id in self.fulfilled:  # read as written: after the holds are
            _fulfilment_ends_request(hold_id)


_NO_BOUND = 2 ** 62  # a run with no loan to place: each copy's last loan alone
_SET_END = "UPDATE loan SET returned_at = ?, return_hlc = ?, fee = ? WHERE id = ?"
_SET_JOURNEY = ("UPDATE item SET transit_to = ?, transit_hlc = ?, status = "
                + DERIVED_STATUS.format(transit="?") + " WHERE id = ?")
_DERIVE_HELD = ("UPDATE item SET status = " + DERIVED_STATUS.format(transit="item.transit_to")
                + " WHERE id = (SELECT item_id FROM hold WHERE id = ?)")


_LOAN_COLUMNS = ("id", "item_id", "patron_id", "library", "out_at", "out_hlc", "due_date",
                 "returned_at", "renewals", "fee", "return_hlc")
_ROWS_PER_INSERT = 70  # 770 parameters, under every SQLite's limit


@functools.cache
def _insert_loans(count):
    one = "(%s)" % ", ".join("?" * len(_LOAN_COLUMNS))
    return "INSERT INTO loan (%s) VALUES %s" % (", ".join(_LOAN_COLUMNS),
                                                 ", ".join([one] * count))


_LOANS_BY_ID = "SELECT id, item_id, out_hlc FROM loan WHERE id IN ({})"
# Each copy's line from the last loan before a clock on (parameters: the clock, the
# copies, the clock): one pass over the copies' loans to find where, one to read.
_LINE_TAILS = ("SELECT " + _HELD.format("l") + """ FROM loan l JOIN (
    SELECT item_id, MAX(CASE WHEN out_hlc < ? THEN out_hlc END) AS start FROM loan
    WHERE item_id IN ({}) GROUP BY item_id) t ON t.item_id = l.item_id
    WHERE l.out_hlc >= COALESCE(t.start, ?)""")
_IN_CHUNK = 500  # values per IN list: under every SQLite's parameter limit


def _fetch(text, values, before=(), after=()):
    """Rows of `text` for `values` in its IN list (in chunks), with the parameters
    `before` and `after` it."""
    values = sorted(v for v in values if isinstance(v, str))
    rows = []
    for start in range(0, len(values), _IN_CHUNK):
        chunk = values[start:start + _IN_CHUNK]
        rows.extend(dialect.run(text.format(", ".join("?" * len(chunk))),
                                (*before, *chunk, *after)).fetchall())
    return rows


def _ended_by(loan, next_hlc):
    """Whether a loan was still out when the next loan of its copy was made."""
    return loan.return_hlc is None or loan.return_hlc >= next_hlc


def _pair(ev, io, item, first, second, barcode=None):
    """The `loaned_twice` conflict of two neighbours in a copy's line (`first` out while
    `second` was made), or, with no barcode, its end: they are no longer such a pair."""
    loans = sorted([first, second])
    conflict_id = str(uuid.uuid5(_NS, "loaned_twice:" + ":".join(loans)))
    if barcode is None:
        io.query(Conflict.delete().where(Conflict.id == conflict_id))
        return
    _conflict(ev, "loaned_twice", item, {"item": barcode, "loans": loans, "open": second},
              io=io, key=":".join(loans))


def loan_out(ev, body, io=DIRECT):
    loan_id = body["loan_id"]
    row = io.view(body["patron_id"], body["item_id"], ev.hlc, loan_id)
    if row is None or row[2] is None:
        _conflict(ev, "unknown_reference", loan_id, {"event": body}, io=io)
        return
    item_id, barcode, patron_id, before, after, handed_in = row
    # copies handed in elsewhere after this loan was made and before the next: they were
    # returns of this loan, taken until now for returns of the loan before it
    handins = io.handins_between(item_id, ev.hlc, after) if handed_in else []
    if handins and before is not None:
        _handins_leave(io, before, handins)
    if before is not None and after is not None and _ended_by(before, after.out_hlc):
        _pair(ev, io, item_id, before.id, after.id)  # this loan comes between them
    if before is not None and _ended_by(before, ev.hlc):
        # One copy cannot be at two places: the later checkout stands.
        io.update(before, returned_at=body["at"])
        _pair(ev, io, item_id, before.id, loan_id, barcode)
    returned_at = None
    if after is not None:  # lent again, later by clock, before this loan came back
        returned_at = after.out_at
        _pair(ev, io, item_id, loan_id, after.id, barcode)
    io.lend((loan_id, item_id, patron_id, body["library"], body["at"], ev.hlc,
             body["due_date"], returned_at))
    for hlc in handins:  # each as the return it is, had it come after this loan
        _return(ev, io, {"item_id": item_id, "loan_id": loan_id, "at": hlc_time(hlc),
                         "fee": 0}, loan_id, hlc)
    if handins:
        io.shelve(item_id, handins[0], None)  # the status again (the journey stands)
    if body.get("hold_id"):
        io.hold_fulfilled(body["hold_id"])
    if body.get("pickup"):  # lent at the library a hold sent it to (applied one by one)
        Loan.update(pickup=body["pickup"]).where(Loan.id == loan_id).execute()


def _handins_leave(io, loan, handins):
    """Hand-ins that ended `loan` until a loan made between them arrived: the loan has
    its own returns only (the hand-ins' one conflict of a second return goes with them)."""
    if loan.return_hlc in handins:
        io.update(loan, return_hlc=None, fee=0)
    conflict_id = str(uuid.uuid5(_NS, f"returned_not_on_loan:{loan.id}"))
    io.query(Conflict.delete().where(Conflict.id == conflict_id))


def hlc_time(hlc):
    """The library's local time of a clock, to the second: when a copy was handed in at
    another library, as every node can tell it from the return's clock alone (the
    loan's return may be reckoned before its return event is held)."""
    return local_time(unpack(hlc)[0])


def loan_in(ev, body, io=DIRECT):
    if body.get("away") and not body.get("loan_id"):
        _away_in(ev, body, io)
        rights_history.recheck((body["item_id"],))  # (one by one: _apply_run)
        return
    loan_id = body.get("loan_id")
    if not loan_id:  # a return the returning desk could not match to a loan
        loan_id = io.open_loan(body["item_id"])
    plain = _return(ev, io, body, loan_id, ev.hlc)
    io.shelve(body["item_id"], ev.hlc, body.get("transit_to"))
    if io is DIRECT and not plain:  # set-wise after a run's flush (_apply_run); a plain
        rights_history.recheck((body["item_id"],))  # end did it itself (RETURN_LOAN)


def _away_in(ev, body, io):
    """Another library's copy handed in where its loan is not held. It is kept (HandIn)
    and is a return of the last loan in the copy's line made before it, at the time of
    its clock and with no fee, ended as any return of that loan ends it (a second return
    included). A loan that arrives later, made between that loan and the hand-in, takes
    it as its own return (loan_out). So the rows are the same whichever comes first.
    Where no loan of the copy is held (the branch that took it back) nothing else
    happens."""
    item_id = body["item_id"]
    HandIn.insert(id=ev.id, item=item_id, hlc=ev.hlc).on_conflict_ignore().execute()
    loan_id = io.loan_before(item_id, ev.hlc)
    if loan_id is not None:
        _return(ev, io, {"item_id": item_id, "loan_id": loan_id, "at": hlc_time(ev.hlc),
                         "fee": 0}, loan_id, ev.hlc)
    io.shelve(item_id, ev.hlc, body.get("transit_to"))


def _return(ev, io, body, loan_id, hlc):
    """A return of `loan_id` at clock `hlc` (body: item_id, at, fee); whether it was the
    plain end of an open loan."""
    if loan_id and io.close(body["at"], body.get("fee", 0), hlc, loan_id):
        return True
    _late_return(ev, body, loan_id, io, hlc)
    return False


def _late_return(ev, body, loan_id, io, hlc):
    """A return of a loan that is not open: returned already, or ended by the next loan
    of its copy. The earliest return by clock stands (at the same instant, the lower
    fee), whichever came first; it ends the loan unless the next loan was made before
    it."""
    found = io.with_next(loan_id) if loan_id else None
    if found is None:
        _conflict(ev, "returned_not_on_loan", body["item_id"], {
            "loan_id": body.get("loan_id"), "at": body["at"], "earlier_return": None}, io=io)
        return
    loan, after = found
    at, fee = body["at"], body.get("fee", 0)
    if loan.return_hlc is not None:
        # one conflict per loan, saying no more than every node knows of it (which two
        # of three returns met first depends on arrival); the loan shows the rest
        _conflict(ev, "returned_not_on_loan", body["item_id"], {
            "loan_id": loan_id, "returned_twice": True}, io=io, key=loan_id)
        if (hlc, fee, at) >= (loan.return_hlc, loan.fee, loan.returned_at or ""):
            return
    columns = {"return_hlc": hlc, "fee": fee}
    if after is None or hlc < after.out_hlc:
        columns["returned_at"] = at
        if after is not None and _ended_by(loan, after.out_hlc):
            _pair(ev, io, body["item_id"], loan_id, after.id)  # back before it was lent again
    io.update(loan, **columns)


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
    parent = body.get("reasks") if isinstance(body.get("reasks"), str) else None
    Hold.insert(id=body["hold_id"], patron=body["patron_id"], bib=current_bib(body["bib_id"]),
                library=body["library"], placed_at=body["at"], source=body.get("source"),
                reasks=parent).on_conflict_ignore().execute()
    # a patron's request remembers every library that declined it, whichever hold of it
    # was asked (below); two desks placing one hold knowing more or less add up
    declined = {h.source for h in _request_of(parent) if h.declined} if parent else set()
    _pass_over([body["hold_id"]], set(body.get("passed_over") or ()) | declined)
    if parent:
        _one_ask_stands(body["hold_id"], parent)
        _fulfilment_ends_request(body["hold_id"])


# A hold asked again (holds.reask) is a new hold naming the one it replaces (`reasks`):
# together they are one patron's request. A library that declined any hold of it is
# never asked again for it (`passed_over` of each), whichever came first: the decline
# or an asking again made meanwhile for another reason. Two desks of the pickup library
# may ask again apart for one hold, each choosing by its own word on the shelves: one of
# those asks stands, and the others, with whatever was asked again for them since, are
# replaced (cancelled, `replaced`), so every node ends with one
# library asked; the pickup library then says so to each library no longer asked
# (holds.reask, `hold.cancelled` naming `replaced`), which holds no word of the ask
# that stands. A copy one of them sent meanwhile goes home, as for any hold ended.
# Once any hold of the request is fulfilled (the patron has a copy), the others end
# the same way, a replaced one too: the patron wants no second copy.

def _request_of(hold_id):
    """The holds of the request `hold_id` belongs to, as held here: up the holds it asks
    again for, then every hold asked again for them."""
    root, seen = hold_id, {hold_id}
    while True:
        up = Hold.select(Hold.reasks).where(Hold.id == root).scalar()
        if up is None or up in seen:
            break
        root = up
        seen.add(up)
    return _with_asked_again([root])


def _with_asked_again(hold_ids):
    """The holds `hold_ids`, and every hold asked again for them since, as held here."""
    found: list[Hold] = []
    todo, seen = list(hold_ids), set(hold_ids)
    while todo:
        found.extend(Hold.select().where(Hold.id << todo))
        todo = [h.id for h in Hold.select(Hold.id).where(Hold.reasks << todo)
                if h.id not in seen]
        seen.update(todo)
    return found


def _pass_over(hold_ids, libraries):
    """Add `libraries` to the holds' `passed_over` (a set: any order, the same list)."""
    if not libraries:
        return
    for hold in Hold.select(Hold.id, Hold.passed_over).where(Hold.id << hold_ids):
        passed = sorted(set(hold.passed_over or ()) | libraries)
        if passed != (hold.passed_over or []):
            Hold.update(passed_over=passed).where(Hold.id == hold.id).execute()


def _one_ask_stands(hold_id, parent):
    """Of the holds asking again for `parent`, the one whose id sorts first stands: the
    same on every node whatever arrived first (two desks choosing the same library make
    the same hold, holds.reask, so a hold's own clock would not do)."""
    asks = [h.id for h in Hold.select(Hold.id).where(Hold.reasks == parent)]
    _replace([a for a in asks if a != min(asks)])
    if Hold.select().where((Hold.id == parent) & Hold.replaced.is_null(False)).exists():
        _replace([hold_id])  # asked again for a hold replaced itself


def _replace(hold_ids):
    """Holds, and those asked again for them since, replaced by an ask that stands."""
    _end_replaced(_with_asked_again(hold_ids))


def _end_replaced(held):
    """End the holds `held` as replaced (found here; the pickup library says it), each
    as far up HOLD_ORDER as it is (a fulfilled one stays so), their copies derived."""
    held = [h for h in held if h.replaced is None or h.status in HOLD_ORDER[:3]]
    if not held:
        return
    Hold.update(status=_hold_moves_to("cancelled"),
                replaced=pw.fn.COALESCE(Hold.replaced, "found")).where(
        Hold.id << [h.id for h in held]).execute()
    for hold in held:
        if hold.item_id:
            derive(hold.item_id)


def _fulfilment_ends_request(hold_id):
    """Once a hold of the request `hold_id` belongs to is fulfilled, every other hold of
    it ends as replaced, but those the fulfilled one was asked again for (ended already
    when it was placed, and said so). Reckoned for the whole request each time, from the
    holds and statuses held, which only grow: the same rows whatever arrives first (the
    fulfilment, an ask, another ask standing)."""
    request = _request_of(hold_id)
    if len(request) < 2:
        return
    parent = {h.id: h.reasks for h in request}
    ending: set[str] = set()
    for hold in request:
        if hold.status == "fulfilled":
            keep, up = {hold.id}, hold.reasks
            while up is not None and up not in keep:
                keep.add(up)
                up = parent.get(up)
            ending.update(set(parent) - keep)
    _end_replaced([h for h in request if h.id in ending])


def hold_declined(ev, body):
    """The library asked to send a copy cannot (holds.decline): the hold leaves its pull
    list and the pickup library asks the next one. Whatever the hold's state (a copy sent
    meanwhile from another desk of that library goes on: the hold is the copy's), and the
    latest word by clock gives the reason, so any order leaves the same row. The other
    holds of the patron's request pass over that library (above)."""
    if _latest("declined:" + str(body["hold_id"]), ev, body):
        Hold.update(declined=str(body.get("reason") or "-")[:DECLINE_REASON_MAX]).where(
            Hold.id == body["hold_id"]).execute()
    hold = Hold.get_or_none(Hold.id == body["hold_id"])
    if hold is not None and hold.source:
        _pass_over([h.id for h in _request_of(hold.id) if h.id != hold.id], {hold.source})


DECLINE_REASON_MAX = 200


def _hold_moves_to(status):
    """The hold's status after `status` is asked: never back down HOLD_ORDER."""
    lower = HOLD_ORDER[:HOLD_ORDER.index(status)]
    return pw.Case(None, [(Hold.status.in_(lower), status)], Hold.status)


def hold_trapped(ev, body):
    """A hold's copy on the shelf. Two desks may trap one hold (with two copies, or two
    pickup days): the later trap by clock names the copy and the day, whichever came
    last, and the other copy's status is derived again."""
    held = Hold.get_or_none(Hold.id == body["hold_id"])
    moves: dict[Any, Any] = {Hold.status: _hold_moves_to("ready")}
    if _latest("trap:" + str(body["hold_id"]), ev, body):
        moves.update({Hold.item: body["item_id"], Hold.pickup_by: body["pickup_by"]})
    Hold.update(moves).where(Hold.id == body["hold_id"]).execute()
    if body.get("received"):  # another library's copy, come for it: here now
        DIRECT.shelve(body["item_id"], ev.hlc, None)
    derive(body["item_id"])
    if held is not None and held.item_id and held.item_id != body["item_id"]:
        derive(held.item_id)


def hold_sent(ev, body):
    """A copy trapped at its library for a hold picked up at another: the hold is in
    transit and the copy travels there. Its arrival (a `hold.trapped` there) names the
    copy that stands whichever came first; without one, the latest sending by clock."""
    held = Hold.get_or_none(Hold.id == body["hold_id"])
    moves: dict[Any, Any] = {Hold.status: _hold_moves_to("in_transit")}
    latest = _latest("sent:" + str(body["hold_id"]), ev, body)
    if latest and Stamp.get_or_none(Stamp.key == "trap:" + str(body["hold_id"])) is None:
        moves[Hold.item] = body["item_id"]
    Hold.update(moves).where(Hold.id == body["hold_id"]).execute()
    DIRECT.shelve(body["item_id"], ev.hlc, body["transit_to"])
    if held is not None and held.item_id and held.item_id != body["item_id"]:
        derive(held.item_id)


def _hold_ended(status):
    def handler(ev, body):
        hold = Hold.get_or_none(Hold.id == body["hold_id"])
        if hold is None:
            return
        moves: dict[Any, Any] = {Hold.status: _hold_moves_to(status)}
        if body.get("replaced"):  # the pickup library says another ask stands (above)
            moves[Hold.replaced] = "told"
        Hold.update(moves).where(Hold.id == hold.id).execute()
        if body.get("item_id") and body.get("transit_to"):  # a copy sent here goes home
            DIRECT.shelve(body["item_id"], ev.hlc, body["transit_to"])
        if hold.item_id:
            derive(hold.item_id)
        if status == "fulfilled":  # filled with the pickup library's own copy (above)
            _fulfilment_ends_request(hold.id)
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
                "renew_window_days", "block_overdue_days", "block_overdue_items",  # NULL before
                "postal_days", "replacement_fee", "fee_limit")
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
    """Staff's choice on a conflict (conflicts.py); two choices made apart: the later."""
    if not _latest("conflict:" + str(body["conflict_id"]), ev, body):
        return
    resolved = Conflict.update(status="resolved", resolution=body.get("resolution"),
                               resolved_by=body.get("actor"), resolved_at=body.get("at"))
    if resolved.where(Conflict.id == body["conflict_id"]).execute() == 0:
        named = named_before(body["conflict_id"])
        if named:
            resolved.where(Conflict.id << named).execute()


# Before schema 8 a conflict was named by the event that made it on the node at hand:
# uuid5("<event>:<kind>:<field or nothing>"). Conflicts of two loans, of returns and
# renewals of one loan and of edits are now named by what they are about, the same on
# every node; a resolution made before still names the old id.
_NAMED_BY_LOANS = {"loaned_twice": "loan.out", "returned_not_on_loan": "loan.in",
                   "renewal_past_limit": "loan.renew"}


def named_before(conflict_id):
    """The conflicts a resolution made before schema 8 meant by `conflict_id`: those that
    one of their events could have made under the old names, whichever came last; the
    same on every node that holds those events. Asked only for an id no conflict has."""
    held = list(Conflict.select(Conflict.id, Conflict.kind, Conflict.entity,
                                Conflict.details).where(
        Conflict.kind << ["edit_conflict", *_NAMED_BY_LOANS]))
    makers: dict[str, set] = {}  # conflict id -> the events that could have made it
    loans: dict[str, list] = {}  # loan id -> ids of the conflicts about it
    edits: dict[tuple, list] = {}  # (record, field) -> ids of the conflicts about it
    for c in held:
        if c.kind == "edit_conflict":
            edits.setdefault((c.entity, c.details.get("field")), []).append(c.id)
            continue
        about = (c.details.get("loans") if c.kind == "loaned_twice" else
                 [c.details.get("loan_id") if c.kind == "returned_not_on_loan" else c.entity])
        for loan_id in about or []:
            loans.setdefault(loan_id, []).append(c.id)
    records = sorted({entity for entity, _ in edits})
    for start in range(0, len(records), _IN_CHUNK):
        for entity, field, event in cast(Iterable[tuple], FieldEdit.select(
                FieldEdit.entity, FieldEdit.field, FieldEdit.event).where(
                FieldEdit.entity << records[start:start + _IN_CHUNK]).tuples()):
            for cid in edits.get((entity, field), ()):
                makers.setdefault(cid, set()).add(f"{event}:edit_conflict:{field}")
    kind_of = {c.id: c.kind for c in held}
    loan_of = pw.SQL(dialect.json_text(Event._meta.database, "body", "loan_id"))
    keys = sorted(loans)
    for start in range(0, len(keys), _IN_CHUNK):
        for event_id, kind, loan_id in cast(Iterable[tuple], Event.select(
                Event.id, Event.kind, loan_of).where(
                (Event.kind << sorted(_NAMED_BY_LOANS.values()))
                & loan_of.in_(keys[start:start + _IN_CHUNK])).tuples()):
            for cid in loans.get(loan_id, ()):
                if _NAMED_BY_LOANS[kind_of[cid]] == kind:
                    makers.setdefault(cid, set()).add(f"{event_id}:{kind_of[cid]}:")
    return [cid for cid, names in makers.items()
            if conflict_id in {str(uuid.uuid5(_NS, name)) for name in names}]


# Counting for reports: a visit is a patron's day at a library (the same day twice is
# one), a hand count is the latest word on its day, a copy read on site is its own row.

def visit_recorded(ev, body):
    Visit.insert(id="|".join((body["library"], body["day"], body["patron_id"])),
                 library=body["library"], day=body["day"],
                 patron=body["patron_id"]).on_conflict_ignore().execute()


def visits_counted(ev, body):
    day_id = f"{body['library']}|{body['day']}"
    if not _latest("visits:" + day_id, ev, body):
        return
    VisitTally.delete().where(VisitTally.id == day_id).execute()
    VisitTally.insert(id=day_id, library=body["library"], day=body["day"],
                      count=int(body["count"])).execute()


def item_used(ev, body):
    InLibraryUse.insert(id=body["use_id"], library=body["library"], day=body["day"],
                        item=body["item_id"]).on_conflict_ignore().execute()


def bib_merged(ev, body):
    """Two records of one book made one (merge.py): the copies and holds of the retired
    record go to the kept one, and the retired record is deleted, pointing at the kept
    one so its old address leads there. A copy or hold saved on the retired record
    later goes to the kept one too (`_ensure_bib`, `hold_placed`), so the same events in
    any order leave the same rows."""
    retired, kept = body["retired"], current_bib(body["kept"])
    _ensure_bib(retired, ev)
    if kept == retired:  # merged the other way round elsewhere: nothing left to keep
        _conflict(ev, "merge_loop", retired, {"kept": body["kept"], "retired": retired})
        return
    row = Bib.get_by_id(retired)
    stamps = dict(row.field_hlc or {})
    if _wins(ev.hlc, True, stamps.get("deleted", 0), row.deleted):
        row.deleted, stamps["deleted"] = True, ev.hlc
    # merged into two records at two places: the later merge names where it leads
    if _wins(ev.hlc, body["kept"], stamps.get("merged_into", 0), row.merged_into):
        row.merged_into, stamps["merged_into"] = body["kept"], ev.hlc
    row.field_hlc = stamps
    row.save()
    Item.update(bib=kept).where(Item.bib == retired).execute()
    Hold.update(bib=kept).where(Hold.bib == retired).execute()
    for bib_id in (retired, kept):
        search.on_bib_changed(Bib._meta.database, bib_id)


# The digital library (core/digital/project.py).

def digital_saved(ev, body):
    digital_project.document_saved(ev, body, _latest)


RUNS = {"loan.out": Batched, "loan.in": Batched, **dict.fromkeys(Records.MODELS, Records)}

HANDLERS = {
    "library.saved": library_saved,
    "patron.saved": patron_saved,
    "bib.saved": bib_saved,
    "item.saved": item_saved,
    "item.received": item_received,
    "loan.out": loan_out,
    "loan.in": loan_in,
    "loan.renew": loan_renew,
    "hold.placed": hold_placed,
    "hold.trapped": hold_trapped,
    "hold.sent": hold_sent,
    "hold.cancelled": _hold_ended("cancelled"),
    "hold.expired": _hold_ended("expired"),
    "hold.fulfilled": _hold_ended("fulfilled"),
    "hold.declined": hold_declined,
    "rule.saved": rule_saved,
    "calendar.saved": calendar_saved,
    "conflict.resolved": conflict_resolved,
    "visit.recorded": visit_recorded,
    "visit.counted": visits_counted,
    "item.used": item_used,
    "bib.merged": bib_merged,
    **stocktake_projection.HANDLERS,
    **request_projection.HANDLERS,
    **fees_projection.HANDLERS,
    **training_projection.HANDLERS,
    **rights_projection.HANDLERS,  # keys, erasure, reading history, audit (core/rights)
    "digital.saved": digital_saved,
    "digital.text": digital_project.text_found,
    "digital.used": digital_project.used,
}
