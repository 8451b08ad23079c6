"""Integrity: SQLite's own check, every event chain, and state equal to a rebuild."""

import json
from collections.abc import Iterable
from typing import cast

import peewee as pw

from . import authority, events, projector
from .models import STATE_MODELS, Event, database_proxy


def check_chains():
    """Faults in the hash chains: a list of strings, empty when every chain holds."""
    faults: list[str] = []
    heads: dict[str, tuple[int, str]] = {}
    for ev in Event.select().order_by(Event.origin, Event.seq).iterator():
        seq, prev = heads.get(ev.origin, (0, events.GENESIS))
        d = events.to_dict(ev)
        if not ev.relayed:  # a relayed event's chain is checked where it is whole
            if ev.seq != seq + 1:
                faults.append(f"{ev.origin}: seq {ev.seq} follows {seq}")
            if ev.prev_hash != prev:
                faults.append(f"{ev.origin}/{ev.seq}: prev_hash does not match")
        if events.event_hash(d) != ev.hash:
            faults.append(f"{ev.origin}/{ev.seq}: hash does not match its content")
        if ev.body != events.canonical(d["body"]):
            faults.append(f"{ev.origin}/{ev.seq}: body is not canonical")
        heads[ev.origin] = (ev.seq, ev.hash)
    return faults


def _snapshot():
    snap = {}
    for model in STATE_MODELS:
        # .tuples() yields tuples; peewee's type stubs say model instances
        rows = cast("Iterable[tuple]",
                    model.select().order_by(*model._meta.get_primary_keys()).tuples())
        snap[model.__name__] = [tuple(json.dumps(v, sort_keys=True, default=str) for v in row)
                                for row in rows]
    return snap


def clear_state():
    for model in reversed(STATE_MODELS):
        model.delete().execute()


def replay(ctx):
    # The hub holds events its authority check refused in the log (the chain stays whole)
    # but never applied them: a rebuild skips them too, so state equals the rebuild.
    for ev in Event.select().where(Event.id.not_in(authority.held_back())).order_by(
            Event.pos).iterator():
        projector.apply(ctx, ev)


def rebuild(ctx):
    """Drop every state row and replay the log in the order it was applied."""
    with events.writing(ctx):
        clear_state()
        replay(ctx)


def state_matches_rebuild(ctx):
    """Rebuild inside a transaction that is rolled back: the live state is untouched."""
    before = _snapshot()
    db = database_proxy.obj
    with db.atomic() as txn:
        clear_state()
        replay(ctx)
        after = _snapshot()
        txn.rollback()
    return [f"{name}: {len(before[name])} rows held, {len(after[name])} rebuilt, contents differ"
            for name in before if before[name] != after[name]]


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
    return faults
