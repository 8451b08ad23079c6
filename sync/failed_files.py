"""Files that failed their check, remembered so that a slow link does not carry them
again on every run (sync.files).

A copy's PDF fetched from the hub that does not hash to the checksum its
``request.ready`` gave, or is not the size it gave, or that the hub refuses to give
(403, 404, 410), is dropped and never served; and a master the hub found not to match
its checksum was sent for nothing. Each is fetched or sent in full, so at 64 kbit/s a
megabyte costs over two minutes of every run. What failed is kept here — which file,
what was expected, why, how many times in a row — and tried again after a wait that
doubles from an hour up to a day (a file broken at the hub stays broken until someone
there repairs it), and at once when what is expected changes: another ``request.ready``
names the file, or the size given changes (a new checksum is another file, never held
back). Staff see the list on the desk's sync line (sync.status), in their language.

A file the hub does not hold yet (``missing``: the library that attached it has not
sent it) is not a failure of the file: it comes with that library's next run, and
asking again costs a question of a few hundred bytes, so it is asked on every run, with
no wait. It is remembered all the same, with the first time the hub said so
(``failed_ms``, kept while it says so again), so that a file the other library never
sends — its Pi off, broken, or the file lost — is told on the desk's sync line once it
is late (``copies.LATE_MS``), not left for the patron to find out.

Times are the town's (``ctx.clock.wall_ms``: the device's clock set right by the
hub's), so a Pi booted in 1970 does not hold a file back for fifty years. A file first
said missing while the clock is not to be trusted (it reads a time well behind the
latest it has seen: a Pi booted in 1970, not yet set right) has no since (``UNKNOWN``),
and makes nothing late; its since starts at the first answer under a clock set right,
so a wait counted from 1970 is never told as two days late."""

from __future__ import annotations

from datetime import datetime, timezone

from .models import FileFailure

MISSING = "missing"  # the reason of a file the hub does not hold yet: no wait, a since
FIRST_S = 3600  # the first wait: a file broken now is likely broken in a quarter of an hour
MOST_S = 24 * 3600  # the longest: still tried once a day, in case it was repaired
UNKNOWN = 0  # the since of a file said missing while the clock could not be trusted


def wait_s(failures: int) -> int:
    """Seconds before the next try after ``failures`` failures in a row."""
    return min(MOST_S, FIRST_S * 2 ** max(0, min(failures - 1, 16)))


def due(direction: str, sha: str, expected: str, now_ms: int) -> bool:
    """Whether the file may be tried now: never failed, its wait is over, or what is
    expected of it is not what failed."""
    row = FileFailure.get_or_none((FileFailure.direction == direction)
                                  & (FileFailure.sha256 == sha))
    return row is None or row.expected != expected or now_ms >= row.retry_ms


def failed(direction: str, sha: str, expected: str, reason: str, now_ms: int,
           detail: str | None = None, trusted: bool = True) -> int:
    """Remember a failure (or a file ``missing`` at the hub); the count in a row (a new
    expectation starts it again). ``trusted``: whether the clock that read ``now_ms``
    is (``HLC.clock_ok``), for a missing file's since."""
    row = FileFailure.get_or_none((FileFailure.direction == direction)
                                  & (FileFailure.sha256 == sha))
    count = 1 if row is None or row.expected != expected else row.failures + 1
    values = {"expected": expected, "reason": reason, "detail": detail, "failures": count,
              "failed_ms": now_ms, "retry_ms": now_ms + wait_s(count) * 1000}
    if reason == MISSING:  # asked again on every run; counted from the first answer
        values.update(failed_ms=_since(row, now_ms, trusted), retry_ms=0)
    FileFailure.insert(direction=direction, sha256=sha, **values).on_conflict(
        conflict_target=[FileFailure.direction, FileFailure.sha256],
        update={getattr(FileFailure, k): v for k, v in values.items()}).execute()
    return count


def _since(row, now_ms: int, trusted: bool) -> int:
    """Since when the hub has said a file is missing: the first time, unless it is not
    known (first said under a clock not to be trusted) or after now (the clock was set
    back since): then from now, when the clock is right; while it is not, a since known
    stays and none starts (``UNKNOWN``)."""
    held = row.failed_ms if row is not None and row.reason == MISSING else UNKNOWN
    if not trusted:
        return held
    return held if UNKNOWN < held <= now_ms else now_ms


def cleared(direction: str, shas) -> None:
    """The files arrived (or are no longer asked for): nothing to remember."""
    shas = list(shas)
    if shas:
        FileFailure.delete().where((FileFailure.direction == direction)
                                   & FileFailure.sha256.in_(shas)).execute()


def forget_others(direction: str, wanted) -> None:
    """Forget failures of files no longer wanted (a copy expired, a document deleted)."""
    FileFailure.delete().where((FileFailure.direction == direction)
                               & FileFailure.sha256.not_in(list(wanted))).execute()


def listed() -> list[dict]:
    """Every failure remembered, the latest first, with ISO times for the status."""
    return [{"direction": r.direction, "sha256": r.sha256, "reason": r.reason,
             "detail": r.detail, "failures": r.failures, "failed_ms": r.failed_ms,
             "failed_at": _iso(r.failed_ms),
             "retry_at": _iso(r.retry_ms)}
            for r in FileFailure.select().order_by(FileFailure.failed_ms.desc())]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="seconds")
