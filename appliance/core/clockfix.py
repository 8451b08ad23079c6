"""A branch's clock set right by the hub's, and the events a wrong clock stamped.

Each signed answer of the hub says the hub's time (`hub_ms`). A branch whose clock is
off by more than a link's delay keeps the difference (`clock` in the setting table)
and every process of the device adds it to its wall clock before it stamps an event
(`events.writing` reads it with the log's highest clock, in the same statement). So a
Pi whose clock runs three days ahead, or that booted in 1970, stamps the town's time,
and staff are told to set the clock (`sync status`, the desk's sync line).

Events it stamped before it knew are in the future: the hub refuses them (a day ahead
is its limit) and, taken in, they would set every clock in town ahead. Those the hub
does not hold — after the cursor of a signed answer, which names every event of this
device the hub has — have been seen by nobody else, so they are stamped again: moved
back by the difference (never later than the hub's time), each still after the event
before it in its chain and after every event the device held when it was made, so the
order of the log stays what it was. Their chain is hashed again from the first one
moved, the stamps later edits of the chain saw (`base`) follow them, and state is
rebuilt from the log. A stick exported before that (`thuvien sync export`) then no
longer matches the chain; the hub refuses it as a fork, and the link brings the
events.
"""

from datetime import datetime, timezone

from . import clock as clockmod
from . import dialect, events
from .models import Event, Setting

KEY = "clock"
# A difference smaller than this is the link's delay or a clock a little off: not
# corrected (the hub takes up to a day ahead), and no warning.
SLACK_MS = 5 * 60 * 1000


def held():
    """What this device knows of its clock: {"offset_ms", "epoch", "learned_at",
    "restamped"}, or {} before any answer said it was off."""
    row = Setting.get_or_none(Setting.key == KEY)
    return row.value if row is not None and isinstance(row.value, dict) else {}


def offset_of(value):
    """The offset in a stored value (`held()`, or the setting's raw JSON)."""
    return int(value.get("offset_ms") or 0) if isinstance(value, dict) else 0


def learn(ctx, hub_ms, sent_ms, received_ms, cursor):
    """Take in the hub's time from a signed answer (`sent_ms`, `received_ms`: this
    device's own clock, uncorrected, when the request left and the answer came), and
    stamp again this device's events after `cursor` that are ahead of the hub. Returns
    {"offset_ms", "restamped"}."""
    raw = hub_ms - (sent_ms + received_ms) // 2
    offset = raw if abs(raw) > SLACK_MS else 0
    if not _changed(offset_of(held()), offset) and _first_ahead(
            ctx.origin, cursor, hub_ms) is None:
        return {"offset_ms": offset_of(held()), "restamped": 0}  # as it was: no lock taken
    with events.writing(ctx):
        value = held()
        moved = restamp(ctx, ctx.origin, cursor, hub_ms, offset)
        if moved or _changed(offset_of(value), offset):
            value = {"offset_ms": offset, "epoch": int(value.get("epoch") or 0) + 1,
                     "learned_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "restamped": int(value.get("restamped") or 0) + moved}
            Setting.insert(key=KEY, value=value).on_conflict(
                conflict_target=[Setting.key], update={Setting.value: value}).execute()
            events.clock_seen(ctx, value)  # this process's clock; others at their next write
    return {"offset_ms": offset_of(value), "restamped": moved}


def _changed(held_ms, offset):
    return (offset == 0) != (held_ms == 0) or abs(offset - held_ms) > SLACK_MS


def restamp(ctx, origin, cursor, hub_ms, offset):
    """Stamp again `origin`'s events after `cursor` from the first one ahead of the hub's
    time by more than SLACK_MS; how many. Inside `events.writing`."""
    first = _first_ahead(origin, cursor, hub_ms)
    if first is None:
        return 0
    before = (Event.select().where((Event.origin == origin) & (Event.seq < first.seq))
              .order_by(Event.seq.desc()).first())
    prev_hash = before.hash if before is not None else events.GENESIS
    mine = before.hlc if before is not None else 0
    # the highest stamp the device held, of other events, as it made each of its own
    seen = dialect.run("SELECT MAX(hlc) FROM event WHERE pos < ?", (first.pos,)).fetchone()[0]
    seen = max(seen or 0, mine)
    renamed, moved = {}, 0
    for ev in Event.select().where(Event.pos >= first.pos).order_by(Event.pos):
        if ev.origin != origin or ev.seq < first.seq:
            seen = max(seen, ev.hlc)
            continue
        ms, counter = clockmod.unpack(ev.hlc)
        wanted = clockmod.pack(max(0, min(ms + offset, hub_ms)), counter)
        stamp = max(wanted, seen + 1)
        renamed[ev.hlc] = stamp
        d = events.to_dict(ev)
        d.update(hlc=stamp, prev_hash=prev_hash,
                 body=_follow(d["body"], renamed))
        d["hash"] = events.event_hash(d)
        Event.update(hlc=stamp, prev_hash=prev_hash, hash=d["hash"],
                     body=events.canonical(d["body"])).where(Event.id == ev.id).execute()
        prev_hash, seen, moved = d["hash"], stamp, moved + 1
    events.reckon_top()  # the log's highest clock may be one just set back
    _rebuild(ctx)
    return moved


def _first_ahead(origin, cursor, hub_ms):
    """`origin`'s first event after `cursor` stamped past the hub's time (and the slack)."""
    limit = clockmod.pack(hub_ms + SLACK_MS, (1 << clockmod.COUNTER_BITS) - 1)
    return (Event.select().where((Event.origin == origin) & (Event.seq > cursor)
                                 & (Event.hlc > limit)).order_by(Event.seq).first())


def _follow(body, renamed):
    """An edit's `base` (the stamps its editor saw) names its chain's new stamps."""
    base = body.get("base")
    if not isinstance(base, dict) or not any(v in renamed for v in base.values()):
        return body
    return dict(body, base={k: renamed.get(v, v) for k, v in base.items()})


def _rebuild(ctx):
    from . import verify

    verify.clear_state()
    verify.replay(ctx)
