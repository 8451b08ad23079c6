"""The projector's handlers for stocktake events (projector.HANDLERS names them).

Each is deterministic and idempotent, and gives the same rows whatever order the same
events arrive in: a seen copy is one row whose clock is the earliest scan's, and of two
finishes (two desks finishing apart) the later by clock stands."""

import json
import uuid

from .. import dialect
from ..models import Stocktake

_NS = uuid.UUID("0b7c8f5e-2d4a-4f0e-8a63-6b69656d6b65")


def seen_id(stocktake_id, item_id, barcode, owner=None):
    """One row per copy (or per unknown barcode and its owner) in a stocktake."""
    key = f"item:{item_id}" if item_id else f"code:{owner or ''}:{barcode}"
    return str(uuid.uuid5(_NS, f"{stocktake_id}|{key}"))


def started(ev, body):
    scope = body.get("scope") or {}
    start = {"location": scope.get("location"), "call_from": scope.get("call_from"),
             "call_to": scope.get("call_to"), "note": body.get("note"),
             "started_at": body.get("at") or ev.wall, "started_by": body.get("actor"),
             "started_hlc": ev.hlc}
    if Stocktake.get_or_none(Stocktake.id == body["stocktake_id"]) is None:
        Stocktake.insert(id=body["stocktake_id"], library=body["library"], **start).execute()
    else:  # its finish came first (from another desk, by a road that overtook it)
        Stocktake.update(start).where(Stocktake.id == body["stocktake_id"]).execute()


# One statement per copy seen (a scan answers in milliseconds): a new row, or a row held
# from a later scan taking this one's clock, time and desk. Ties go by time, then desk.
_SEEN = """INSERT INTO stocktake_seen (id, stocktake, item, barcode, owner, hlc, at, actor, via)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET hlc = excluded.hlc, at = excluded.at,
    actor = excluded.actor, via = excluded.via
WHERE (excluded.hlc, excluded.at, COALESCE(excluded.actor, ''))
    < (stocktake_seen.hlc, stocktake_seen.at, COALESCE(stocktake_seen.actor, ''))"""


def seen(ev, body):
    at = body.get("at") or ev.wall
    for s in body.get("seen") or ():
        dialect.run(_SEEN, (
            seen_id(body["stocktake_id"], s.get("item_id"), s["barcode"], s.get("owner")),
            body["stocktake_id"], s.get("item_id"), s["barcode"], s.get("owner"), ev.hlc,
            at, body.get("actor"), body.get("via") or "scanner"))


def finished(ev, body):
    row = Stocktake.get_or_none(Stocktake.id == body["stocktake_id"])
    if row is None:  # its start is on its way: the start fills the rest in
        row = Stocktake.create(id=body["stocktake_id"], library=body["library"],
                               started_at="")
    elif row.finished_at is not None and _finish_key(ev.hlc, body.get("at"), body.get(
            "result")) <= _finish_key(row.finished_hlc, row.finished_at, row.result):
        return
    Stocktake.update(finished_at=body.get("at") or ev.wall, finished_by=body.get("actor"),
                     finished_hlc=ev.hlc, result=body.get("result")).where(
        Stocktake.id == row.id).execute()


def _finish_key(hlc, at, result):
    """The order of two finishes: by clock, then by what they say (never by arrival)."""
    return (hlc, at or "", json.dumps(result, sort_keys=True))


HANDLERS = {"stocktake.started": started, "stocktake.seen": seen,
            "stocktake.finished": finished}
