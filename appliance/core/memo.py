"""Values derived from tables that rarely change (loan rules, the calendar), kept in
memory under a stamp.

The projector renews a table group's stamp (a random token in the `setting` table) in
the same transaction as any change to it, so a value is reused only by readers that see
the very state it was computed from: other threads and other processes (the sync agent)
included, and a rolled-back change leaves no stale value behind."""

import threading
import uuid

from .models import Setting
from .prepared import Prepared

_STAMP = Prepared(Setting, lambda key: Setting.select(Setting.value).where(
    Setting.key == key), 1)
_values: dict[tuple, object] = {}  # (stamp, group, key) -> value
_lock = threading.Lock()
# Per thread: the stamps its write transaction read as it began (events.writing), with a
# test of whether it has written anything since.
class _Held(threading.local):
    stamps: tuple | None = None


_held = _Held()


def hold(stamps, unchanged):
    """Take `stamps` ({group: stamp}) as the stamps while `unchanged()` says this
    transaction has written nothing since they were read under its write lock: nobody
    else can have changed them, so no lookup is needed. After a write (a renewal among
    them, or one a savepoint rolled back), they are asked again."""
    _held.stamps = (stamps, unchanged)


def release():
    _held.stamps = None


def _stamp(group):
    held = _held.stamps
    if held is not None and group in held[0] and held[1]():
        return held[0][group]
    return _STAMP.scalar(f"stamp:{group}")


def renew(group):
    """Mark `group` changed (called by the projector inside the changing transaction)."""
    stamp = uuid.uuid4().hex
    Setting.insert(key=f"stamp:{group}", value=stamp).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: stamp}).execute()


def cached(group, key, compute):
    """`compute()`, or its value from an earlier call that saw the same stamp. Callers
    must not change what they get back: it is shared."""
    full_key = (_stamp(group), group, key)
    try:
        return _values[full_key]
    except KeyError:
        pass
    value = compute()
    with _lock:
        if len(_values) > 4096:  # old stamps' values: never read again
            _values.clear()
        _values[full_key] = value
    return value
