"""A hub answer applied at a branch: one function for the link and the USB stick.

Over HTTP and on a stick the hub sends the same thing, sealed and signed: a page of the
town's events after a pull position (``after`` on a stick; over HTTP, what the branch
asked for), where the page ends (``next``), and the seq of this device's chain the hub
holds (``cursor``). The page and both cursors go in one transaction, and both cursors
only move forward: an answer older than what the branch already has (a stick carried in
after a newer sync over the link) adds the events it holds that are not here yet (ingest
skips those held) and moves nothing back. The hub's word on other libraries' shelves
(core/shelves) comes with either, and a stick's older word never replaces a newer one.

The one way back is ``rewind``: the hub saying, in a refusal or in its answer to the
batch just sent, that it holds less of this device's chain than it acknowledged (it was
restored from a backup). That only sends the branch back to resend more, never ahead.
"""

from __future__ import annotations

import logging

from appliance.core import events, privacy, shelves

from .models import get_state, set_state

log = logging.getLogger("thuvien.sync")


def apply(ctx, meta: dict, incoming: list[dict], after: int | None = None) -> dict:
    """Apply a hub answer's events and move the cursors it allows; raises DomainError
    (nothing written) when core refuses an event.

    ``after``: where the page starts. A page that starts beyond this branch's pull
    cursor does not join on: its events are applied, the pull cursor stays, and the
    events in between come with the next pull rather than being skipped. ``None`` (an
    older hub's stick) takes the page as joining on.
    """
    # What a hub (or a stick) from before schema 7 sends whole is kept as the hub sends it
    # now: the same function, so the event is the one already held, if it is.
    incoming = [privacy.for_branch(d, ctx.library) for d in incoming]
    with events.writing(ctx):
        if incoming:
            result = events.ingest(ctx, incoming, relayed=True)
        else:
            result = {"applied": 0, "skipped": 0}
        acked = _advance_acked(ctx, meta.get("cursor"))
        pull_after = _advance_pull(meta.get("next"), after)
        if "shelves" in meta:  # the hub's word on other libraries' shelves (core/shelves)
            shelves.take(ctx, meta["shelves"], said_ms=_int(meta.get("shelves_ms")))
    return {"applied": result["applied"], "skipped": result["skipped"], "acked": acked,
            "pull_after": pull_after}


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _advance_acked(ctx, cursor) -> int:
    """The hub's signed word that it holds this device's events up to ``cursor``: taken
    when it is ahead of ours and within the chain we have made."""
    acked = get_state("acked_seq", 0) or 0
    cursor = _int(cursor)
    if cursor is not None and acked < cursor <= events.head(ctx.origin)[0]:
        set_state(acked_seq=cursor)
        return cursor
    return acked


def _advance_pull(next_pos, after) -> int:
    current = get_state("pull_after", 0) or 0
    next_pos, after = _int(next_pos), _int(after)
    if next_pos is None or next_pos <= current:
        return current
    if after is not None and after > current:
        return current  # a page that does not join on: what lies between is still to come
    set_state(pull_after=next_pos)
    return next_pos


def rewind(cursor) -> bool:
    """Resend this device's events after ``cursor``, when the hub holds less than acked."""
    acked = get_state("acked_seq", 0) or 0
    cursor = _int(cursor)
    if cursor is None or not 0 <= cursor < acked:
        return False
    log.warning("sync: the hub holds this device's events up to %s, not %s: resending",
                cursor, acked)
    set_state(acked_seq=cursor)
    return True
