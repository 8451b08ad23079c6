"""Where a copy's PDF is, and which nodes of the town hold it.

The PDF is kept in the digital store under its SHA-256 (`digital/masters/`), and the
event that makes the request ready names that checksum and the size. It travels between
nodes as the digital library's masters do (sync/files.py, the one file transport): from
the branch that attached it up to the hub, and from the hub down to the devices of the
patron's home library, so the patron downloads it on the hub's site and on their own
library's. A node takes a file only when it hashes to the checksum the event gave, so
what it serves is what staff attached.

These are the questions that transport asks of the requests, as queries: which copies
a library sends up, which a library pulls down, which a device may fetch at the hub."""

from ..clock import local_time, unpack
from ..digital import store
from ..models import DigitalDocument, Patron, RemoteRequest

SHOWN = ("ready", "delivered")  # a patron may download it: it is worth holding
# A copy's PDF not at the hub this long after it was asked for there is late, and staff
# are told which library has not sent it (the home branch's sync line, the hub's queue).
# Runs come every quarter of an hour while a Pi is on, so a PDF is up within the hour
# the library opens; two days leave room for a night and a closed day (a ward library
# opens a few days a week) before anyone is alarmed, and a patron who was told "within
# the hour" is not left a week before someone phones that library.
LATE_MS = 2 * 24 * 3600 * 1000


def path(files, req):
    """Where the request's PDF is read here (it may not be held)."""
    return store.master_path(files, req.sha256, "pdf")


def held(files, req):
    return bool(req.sha256) and path(files, req).exists()


def _offered():
    """Copies with a PDF a patron may download now."""
    return ((RemoteRequest.kind == "copy") & RemoteRequest.state.in_(SHOWN)
            & RemoteRequest.sha256.is_null(False) & RemoteRequest.size.is_null(False))


def _restricted():
    return DigitalDocument.select(DigitalDocument.id).where(
        DigitalDocument.access == "restricted")


def sent_up_by(library):
    """The copies `library` handles whose PDF goes to the hub: pages of a document that
    has become restricted since stay in the unit like the document itself."""
    return RemoteRequest.select().where(
        _offered() & (RemoteRequest.library == library)
        & (RemoteRequest.document.is_null() | RemoteRequest.document.not_in(_restricted())))


def _of_patrons_of(library):
    return RemoteRequest.patron.in_(Patron.select(Patron.id).where(Patron.library == library))


def pulled_down_by(library):
    """The copies a device of `library` fetches from the hub: its own patrons', whoever
    handles them (the patron looks for it on their own library's site)."""
    return RemoteRequest.select().where(_offered() & _of_patrons_of(library))


def comes_to(ctx, req):
    """Whether the PDF of ``req``, not held here, comes with a sync: the hub gets every
    copy a branch attached, a branch only its own patrons' (``pulled_down_by``). A copy
    this library handles for another library's patron that the hub's staff attached
    stays at the hub and the patron's home library: the handling branch does not need
    it, and it is a patron's reading carried over a slow link (docs/requests.md)."""
    if ctx.role == "hub":
        return True
    return pulled_down_by(ctx.library).where(RemoteRequest.id == req.id).exists()


def fetchable_by(library, sha256):
    """The size of the copy `sha256` that a device of `library` may fetch from the hub
    (a copy its library handles or one of its patrons asked for), or None."""
    row = RemoteRequest.select(RemoteRequest.size).where(
        _offered() & (RemoteRequest.sha256 == sha256)
        & ((RemoteRequest.library == library) | _of_patrons_of(library))).first()
    return None if row is None else row.size


def sendable_by(library, sha256):
    """The size of the copy `sha256` that a device of `library` may send to the hub (a
    copy its own library handles), or None."""
    row = sent_up_by(library).where(RemoteRequest.sha256 == sha256).first()
    return None if row is None else row.size


def verify(ctx):
    """Faults of the copies' PDFs held here: each hashes to the checksum its event gave
    (one not held yet is no fault: it comes with the next sync)."""
    if ctx.files is None:
        return []
    shas = {r.sha256 for r in RemoteRequest.select(RemoteRequest.sha256).where(
        RemoteRequest.sha256.is_null(False))}
    return store.verify(ctx.files, [(sha, "pdf") for sha in shas
                                    if store.master_path(ctx.files, sha, "pdf").exists()])


def late(since_ms, now_ms):
    """Whether a PDF missing since ``since_ms`` (town time) is late by ``now_ms``; a clock
    that reads earlier (a Pi booted in 1970, not yet set right) makes nothing late, nor
    does a since not known (0: first said missing under such a clock, sync.failed_files)."""
    return since_ms > 0 and now_ms - since_ms > LATE_MS


def late_at_hub(files, req, now_ms):
    """Since when (ms, town time) the hub has waited for the PDF of a ready copy it does
    not hold, when that is late: the clock of the ``request.ready`` that named it."""
    if req.kind != "copy" or req.state != "ready" or not req.sha256 or held(files, req):
        return None
    ready_ms = unpack((req.field_hlc or {}).get("sha256", req.state_hlc))[0]
    return ready_ms if late(ready_ms, now_ms) else None


def late_note(ctx, req):
    """At the hub, a ready copy whose PDF is late (``late_at_hub``) as the queue, the
    request's page, the API and ``thuvien requests list`` all say it: since when (the
    library's time, like the request's other times) and the library that must send it.
    None when it is not late, and at a branch, whose desk is told on its sync line."""
    if ctx.role != "hub":
        return None
    since = late_at_hub(ctx.files, req, ctx.clock.wall_ms())
    return None if since is None else {"since": local_time(since), "library": req.library}


def late_fields(ctx, req):
    """The staff lists' fields for it (API, command line): null unless late."""
    note = late_note(ctx, req) or {}
    return {"late_since": note.get("since"), "awaited_from": note.get("library")}
