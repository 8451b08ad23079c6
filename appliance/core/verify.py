"""Integrity: SQLite's own check, every event chain, and state equal to a rebuild."""

import hashlib
import json
from collections.abc import Iterable
from typing import cast

import peewee as pw

from . import authority, events, projector
from .digital import documents
from .models import STATE_MODELS, Event, database_proxy
from .requests import copies
from .rights import erasure


def check_chains():
    """Faults in the hash chains: a list of strings, empty when every chain holds."""
    faults: list[str] = []
    heads: dict[str, tuple[int, str]] = {}
    erased = erasure.erased_patrons()
    for ev in Event.select().order_by(Event.origin, Event.seq).iterator():
        seq, prev = heads.get(ev.origin, (0, events.GENESIS))
        d = events.to_dict(ev)
        if not ev.relayed:  # a relayed event's chain is checked where it is whole
            if ev.seq != seq + 1:
                faults.append(f"{ev.origin}: seq {ev.seq} follows {seq}")
            if ev.prev_hash != prev:
                faults.append(f"{ev.origin}/{ev.seq}: prev_hash does not match")
        if events.event_hash(d) != ev.hash and not _shredded(d, erased):
            faults.append(f"{ev.origin}/{ev.seq}: hash does not match its content")
        if ev.body != events.canonical(d["body"]):
            faults.append(f"{ev.origin}/{ev.seq}: body is not canonical")
        heads[ev.origin] = (ev.seq, ev.hash)
    return faults


def _shredded(d, erased):
    """An event whose personal fields an erasure the log holds overwrote (rights/erasure):
    its hash is the one it was made with, so the chain still links; the erasure event,
    in a chain of its own, is what vouches for the change."""
    return erasure.shows_erasure(d) and erasure.erased_owner(d) in erased


# Columns of state tables that say how this node came by a row, not what the state is:
# which of a conflict's events arrived last here (and its time) differs between nodes
# that hold the same conflict, under the same id, about the same rows.
LOCAL_COLUMNS = {"Conflict": ("event", "other_event", "created_at")}
LOG_ORDER = "the order it was applied here"
CLOCK_ORDER = "(hlc, origin, seq) order"


def snapshot():
    """Every state table's rows (without LOCAL_COLUMNS) as text, in key order: what two
    nodes that hold the same events must agree on."""
    snap = {}
    for model in STATE_MODELS:
        skip = LOCAL_COLUMNS.get(model.__name__, ())
        fields = [f for f in model._meta.sorted_fields if f.name not in skip]
        # .tuples() yields tuples; peewee's type stubs say model instances
        rows = cast("Iterable[tuple]", model.select(*fields).order_by(
            *model._meta.get_primary_keys()).tuples())
        snap[model.__name__] = [tuple(json.dumps(v, sort_keys=True, default=str) for v in row)
                                for row in rows]
    return snap


def digest(snap=None):
    """SHA-256 of `snapshot()`: equal on two nodes exactly when their state is."""
    text = json.dumps(snap if snap is not None else snapshot(), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def differences(held, rebuilt):
    """What differs between two snapshots, a line per table, naming a row of each side."""
    lines = []
    for name in held:
        ours, theirs = set(held[name]), set(rebuilt[name])
        if ours == theirs:
            continue
        only_held, only_rebuilt = sorted(ours - theirs), sorted(theirs - ours)
        sample = json.loads((only_held or only_rebuilt)[0][0])
        lines.append(f"{name}: {len(held[name])} rows held, {len(rebuilt[name])} rebuilt, "
                     f"{len(only_held)} held and {len(only_rebuilt)} rebuilt rows without "
                     f"their like (first: {sample})")
    return lines


def clear_state():
    for model in reversed(STATE_MODELS):
        model.delete().execute()


REPLAY_CHUNK = 500  # events read at once in a replay in clock order


def replay(ctx, order=LOG_ORDER, kinds=None):
    """Apply every event of the log again (or those of `kinds`), in the order it was
    applied here or in (hlc, origin, seq) order, the one order every node can agree on."""
    # The hub holds events its authority check refused in the log (the chain stays whole)
    # but never applied them: a rebuild skips them too, so state equals the rebuild.
    applied = Event.id.not_in(authority.held_back())
    if kinds is not None:
        applied &= Event.kind.in_(list(kinds))
    if order == LOG_ORDER:
        for ev in Event.select().where(applied).order_by(Event.pos).iterator():
            projector.apply(ctx, ev)
        return
    # The clock is not indexed on SQLite (events.LOG_TOP): the positions are sorted, not
    # the events with their bodies, and the events read a chunk at a time.
    positions = [pos for (pos,) in Event.select(Event.pos).where(applied).order_by(
        Event.hlc, Event.origin, Event.seq).tuples().iterator()]
    for start in range(0, len(positions), REPLAY_CHUNK):
        chunk = positions[start:start + REPLAY_CHUNK]
        held = {ev.pos: ev for ev in Event.select().where(Event.pos.in_(chunk))}
        for pos in chunk:
            projector.apply(ctx, held[pos])



def rebuild(ctx):
    """Drop every state row and replay the log in the order it was applied."""
    with events.writing(ctx):
        clear_state()
        replay(ctx)


def state_matches_rebuild(ctx, orders=(LOG_ORDER, CLOCK_ORDER)):
    """Rebuild in each order inside a transaction that is rolled back (the live state is
    untouched); a fault for each order whose rebuild differs from the state. In the order
    the log was applied, a difference means state was changed outside the projector; in
    clock order, that these events give other state in another order, so replicas
    holding them can disagree."""
    held = snapshot()
    db = database_proxy.obj
    faults: list[str] = []
    for order in orders:
        with db.atomic() as txn:
            clear_state()
            replay(ctx, order)
            rebuilt = snapshot()
            txn.rollback()
        faults.extend(f"{line}; differs from a rebuild of the event log in {order}"
                      for line in differences(held, rebuilt))
    return faults


def verify(ctx):
    """All faults found; an empty list means the data can be trusted."""
    faults: list[str] = []
    db = database_proxy.obj
    if isinstance(db, pw.SqliteDatabase):
        result = [r[0] for r in db.execute_sql("PRAGMA integrity_check").fetchall()]
        if result != ["ok"]:
            faults.extend(f"integrity_check: {r}" for r in result)
        if db.execute_sql("PRAGMA foreign_key_check").fetchall():
            faults.append("foreign_key_check: rows point to missing rows")
    faults.extend(check_chains())
    faults.extend(state_matches_rebuild(ctx))
    faults.extend(documents.verify(ctx))  # masters present and matching their checksums
    faults.extend(copies.verify(ctx))  # remote copies' PDFs held here, likewise
    return faults
