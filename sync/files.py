"""The digital library's files between a branch and the hub, after the events.

A document's metadata and OCR text travel as events; its files do not. This is how the
town's digital library is held at the hub and seen from every branch:

- **Masters up.** A branch sends the hub the masters of its own documents (never a
  restricted one), in chunks, each a sealed request on the device channel. The hub keeps
  what came in a ``.part`` named by the checksum and says how much it holds, so a cut
  link, a killed process or a run's deadline resumes at that byte; a finished file is
  checked against its checksum before it becomes a master, and its pages are queued for
  the hub's own images. The hub takes a file only when a document of the sending
  device's library names it, with that size: a device cannot park other bytes at the hub.
- **Thumbnails down.** Branches on an EDGE link never pull masters; they get each other
  library's document pages as thumbnails (a few KB each), first pages first, a budget of
  bytes per run, so the OPAC shows what a document looks like and links to the hub's
  viewer for the pages themselves.

- **Copies both ways.** The PDF of a patron's remote copy (core/requests/copies.py)
  goes up like a master from the branch that attached it, and comes down from the hub to
  the devices of the patron's home library through the same chunks, ``.part`` and
  checksum, asked for by its checksum (the one its ``request.ready`` event gave): a
  patron downloads it on the hub's site and on their own library's. A device may send
  only the copies its library handles, and fetch only those or its own patrons'.

Files go after the events in a run (a loan never waits behind a scan) and only on the
scheduled run and ``thuvien sync now``, not the desk's button, where a person waits. So
one run at the library that attached a copy (its ``request.ready``, then its PDF up) and
then one run at the patron's home library (the event, then the PDF down) deliver it.
Which masters the hub holds and which thumbnails a branch holds are remembered here
(``FileHeld``), so a run asks about what is new, not the whole library again. A failure
here is kept for the status line and never fails the run: the events went first. A file
that failed its check (or that the hub refused to give) is remembered and tried again
after a growing wait, not in full on every run (sync.failed_files).
"""

from __future__ import annotations

import base64
import logging
import os
import threading
from pathlib import Path

from appliance.core import events
from appliance.core.digital import jobs, store
from appliance.core.models import DigitalDocument, DigitalPage, RemoteRequest
from appliance.core.requests import copies

from . import envelope, failed_files, keys, link, protocol, receive
from .models import FileHeld

log = logging.getLogger("thuvien.sync")

PATH = "/sync/v1/files"
CHUNK = 128 * 1024  # a chunk crosses the slowest expected link in about half a minute
OFFER = 200  # masters asked about in one request
THUMBS_ASKED = 40  # thumbnails asked for in one request
THUMB_BUDGET_KB = 512  # thumbnails a branch pulls in one run (settings: sync.thumbnail_kb)
QUESTIONS = 25  # thumbnail questions in one run, whatever the hub answers
MAX_REQUEST = CHUNK * 2 + 64 * 1024
INCOMING = "digital/incoming"

_lock = threading.Lock()  # the hub's threads append to a file's part one at a time


# The branch's side.

def exchange(ctx, run, budget_kb: int | None = None) -> dict:
    """Copies up and down, thumbnails down, then masters up, until done or the run's
    deadline; what was done stays done. ``run`` is the agent's run (its link, deadline
    and retries), whose events went first."""
    done = {"thumbs": 0, "masters": 0, "bytes": 0}
    conf = ctx.settings.get("sync") or {}
    budget = 1024 * (budget_kb if budget_kb is not None
                     else int(conf.get("thumbnail_kb", THUMB_BUDGET_KB)))
    try:
        # A patron waits for a copy: those attached here go up first (the home library
        # fetches them at its next run, and a deadline on a slow link must not hold them
        # behind pictures), then those attached elsewhere come down, by the events this
        # run pulled; then the pictures and the masters.
        up = _copies_up(ctx)
        _offer(ctx, run, sorted(up), done)
        _pull_copies(ctx, run, done)
        _pull_thumbs(ctx, run, budget, done)
        _push_masters(ctx, run, done, copies_up=up)
    except link.DeadlinePassed:
        done["unfinished"] = True  # the next run goes on from where this one stopped
    except protocol.SyncError as exc:
        log.warning("sync: files: %s", exc)
        done["error"] = f"{exc.code}: {exc.message}"
    return done


def _ask(ctx, run, question: dict) -> dict:
    """One sealed question to the hub's files endpoint; its signed answer."""
    data = protocol.seal_payload({"files": question}, [], sender=ctx.origin,
                                 sign_key=run.mine.sign, recipient=run.hub,
                                 batch_id=os.urandom(16))
    status, body = run.post_retrying(data, run.base + PATH)
    if status != 200:
        exc = protocol.SyncError("files_refused", f"HTTP {status}: {body[:300]!r}")
        exc.status = status  # a refusal of one file (_fetch) is not one of the link
        raise exc
    try:
        env = envelope.parse(body)
        if env.header.sender != run.hub.id:
            raise envelope.EnvelopeError("wrong_sender", f"answer from {env.header.sender!r}")
        envelope.verify(env, keys.sign_public_from(run.hub.sign_key))
        meta, _ = protocol.open_payload(env, me=ctx.origin, box_key=run.mine.box)
    except envelope.EnvelopeError as exc:
        raise protocol.SyncError("bad_answer", f"{exc.code}: {exc.reason}") from exc
    said = meta.get("files")
    if meta.get("request") != envelope.parse(data).header.batch_hex or not isinstance(said, dict):
        raise protocol.SyncError("bad_answer", "the answer is not for the request sent")
    return said


def _mine(ctx):
    """Pages of this library's documents whose masters may go to the hub."""
    return (DigitalPage.select(DigitalPage.sha256, DigitalPage.ext, DigitalPage.size)
            .join(DigitalDocument, on=(DigitalPage.document == DigitalDocument.id))
            .where((DigitalDocument.library == ctx.library)
                   & (DigitalDocument.access != "restricted") & ~DigitalDocument.deleted))


def _copies_up(ctx) -> set:
    """The copies this library handles whose PDF the hub does not hold yet."""
    held = FileHeld.select(FileHeld.key).where(FileHeld.kind == "master")
    return {(r.sha256, "pdf", r.size) for r in copies.sent_up_by(ctx.library).where(
        RemoteRequest.sha256.not_in(held))}


def _push_masters(ctx, run, done, copies_up) -> None:
    """Masters of this library's documents the hub does not hold yet (``copies_up``: the
    copies offered before them in this run, not offered again)."""
    held = FileHeld.select(FileHeld.key).where(FileHeld.kind == "master")
    rows = {(p.sha256, p.ext, p.size) for p in _mine(ctx).where(DigitalPage.sha256.not_in(held))}
    failed_files.forget_others("up", {r[0] for r in rows | copies_up})  # deleted since, say
    _offer(ctx, run, sorted(rows - copies_up), done)


def _offer(ctx, run, rows, done) -> None:
    """Offer the hub these masters (those held here, and not held back after the hub
    refused them) and send what it asks for, from where it holds them."""
    now = ctx.clock.wall_ms()
    todo = [r for r in rows if store.master_path(ctx.data_dir, r[0], r[1]).exists()]
    later = [r for r in todo if not failed_files.due("up", r[0], str(r[2]), now)]
    if later:
        done["later"] = done.get("later", 0) + len(later)
    todo = [r for r in todo if r not in later]
    for start in range(0, len(todo), OFFER):
        part = todo[start:start + OFFER]
        said = _ask(ctx, run, {"offer": [list(r) for r in part]})
        want = said.get("want") if isinstance(said.get("want"), dict) else {}
        held = set(said.get("held") or ()) & {sha for sha, _e, _s in part}
        _remember("master", held)
        failed_files.cleared("up", held)
        for sha, ext, size in part:
            if isinstance(want.get(sha), int):
                _send(ctx, run, sha, ext, size, want[sha], done)


def _send(ctx, run, sha, ext, size, offset, done) -> None:
    path = store.master_path(ctx.data_dir, sha, ext)
    with open(path, "rb") as f:
        while offset < size:
            f.seek(offset)
            chunk = f.read(CHUNK)
            said = _ask(ctx, run, {"put": {"sha256": sha, "ext": ext, "offset": offset,
                                           "data": base64.b64encode(chunk).decode()}})
            if said.get("bad"):  # the hub found the whole did not match: it starts again
                log.warning("sync: the hub refused master %s: %s", sha, said["bad"])
                failed_files.failed("up", sha, str(size), "checksum", ctx.clock.wall_ms(),
                                    str(said["bad"]))
                done["failed"] = done.get("failed", 0) + 1
                done["bytes"] += len(chunk)  # it crossed the link for nothing
                return
            held = said.get("held")
            if not isinstance(held, int) or held < 0 or held > size:
                raise protocol.SyncError("bad_answer", "the hub's answer about a file is wrong")
            done["bytes"] += len(chunk) if held > offset else 0
            offset = held
    _remember("master", [sha])
    failed_files.cleared("up", [sha])
    done["masters"] += 1


def _pull_copies(ctx, run, done) -> None:
    """The PDFs of copies this library's patrons asked for that are not here yet, from
    the hub (which has them once the handling branch sent them), each by the checksum
    and size its event gave; one that failed its check waits (sync.failed_files)."""
    wanted = _copies_down(ctx)
    failed_files.forget_others("down", {sha for sha, _size in wanted})
    now = ctx.clock.wall_ms()
    for (sha, size), expected in sorted(wanted.items()):
        if not store.master_path(ctx.data_dir, sha, "pdf").exists():
            if not failed_files.due("down", sha, expected, now):
                done["later"] = done.get("later", 0) + 1
                continue
            failure = _fetch(ctx, run, sha, size, done)
            if failure is not None:  # missing too: since when, for the desk (failed_files)
                failed_files.failed("down", sha, expected, failure[0], now, failure[1],
                                    trusted=ctx.clock.clock_ok())
                key = "missing" if failure[0] == failed_files.MISSING else "failed"
                done[key] = done.get(key, 0) + 1
                continue
        failed_files.cleared("down", [sha])  # held


def _copies_down(ctx) -> dict:
    """{(checksum, size): what is expected of it}: the size, and the ``request.ready``
    events that name it (their clocks), so another one asks for it again at once."""
    readies: dict = {}
    for r in copies.pulled_down_by(ctx.library):
        stamp = (r.field_hlc or {}).get("sha256", r.state_hlc)
        readies.setdefault((r.sha256, r.size), set()).add(f"{r.id}@{stamp}")
    return {key: f"{key[1]}:" + ",".join(sorted(ids)) for key, ids in readies.items()}


REFUSED = (403, 404, 410)  # the hub will not give this file: a fault of the file, not the link


def _fetch(ctx, run, sha, size, done) -> tuple[str, str | None] | None:
    """One copy in chunks, going on from the ``.part`` a stopped run left; kept only when
    the whole hashes to ``sha`` (a file that does not is dropped, never served). Returns
    why it failed ``(reason, detail)`` (``missing``: not at the hub yet) or None (kept)."""
    part = _part(ctx, sha, "pdf")
    offset = part.stat().st_size if part.exists() else 0
    if offset > size:  # not this file, whatever it is
        part.unlink()
        offset = 0
    while not store.master_path(ctx.data_dir, sha, "pdf").exists():
        chunk = b""
        if offset < size:
            try:
                said = _ask(ctx, run, {"get": {"sha256": sha, "ext": "pdf", "offset": offset}})
            except protocol.SyncError as exc:
                if getattr(exc, "status", None) not in REFUSED:
                    raise
                return "refused", exc.message
            if said.get("missing"):  # the branch that attached it has not sent it yet
                return failed_files.MISSING, None
            try:
                chunk = base64.b64decode(str(said.get("data")), validate=True)
            except ValueError:
                raise protocol.SyncError("bad_answer", "a chunk's bytes are not base64") from None
            if not chunk or offset + len(chunk) > size:  # the hub's file ends elsewhere
                part.unlink(missing_ok=True)
                done["bytes"] += len(chunk)
                done["refused"] = done.get("refused", 0) + 1
                return "size", f"{sha}: the hub's file is not {size} bytes"
        took = _take(ctx, sha, "pdf", size, offset, chunk, "the hub")
        done["bytes"] += len(chunk)  # it crossed the link, kept or not
        if took.get("bad"):
            done["refused"] = done.get("refused", 0) + 1
            return "checksum", str(took["bad"])
        if took.get("done"):
            done["copies"] = done.get("copies", 0) + 1
            return None
        if took["held"] <= offset:
            raise protocol.SyncError("bad_answer", "the hub's chunk of a copy is not the one "
                                                   "asked for")
        offset = took["held"]
    return None


def _pull_thumbs(ctx, run, budget: int, done) -> None:
    got = 0
    asked: set = set()  # the hub had none of these yet: asked again next run
    for _ in range(QUESTIONS):
        wanted = _thumbs_wanted(ctx, asked)
        if not wanted or got >= budget:
            return
        asked.update(wanted)
        said = _ask(ctx, run, {"thumbs": wanted})
        thumbs = said.get("thumbs") if isinstance(said.get("thumbs"), dict) else {}
        for page_id, b64 in thumbs.items():
            if page_id in wanted and isinstance(b64, str):
                got += _keep_thumb(ctx, page_id, b64)
                done["thumbs"] += 1
        _remember("thumb", [p for p in wanted if p in thumbs])


def _thumbs_wanted(ctx, asked) -> list[str]:
    """Other libraries' pages with no thumbnail here, first pages first (the record's
    picture), then each document's pages in order."""
    held = FileHeld.select(FileHeld.key).where(FileHeld.kind == "thumb")
    rows = (DigitalPage.select(DigitalPage.id)
            .join(DigitalDocument, on=(DigitalPage.document == DigitalDocument.id))
            .where((DigitalDocument.library != ctx.library)
                   & (DigitalDocument.access != "restricted") & ~DigitalDocument.deleted
                   & DigitalPage.id.not_in(held))
            .order_by(DigitalPage.n > 1, DigitalDocument.created_at, DigitalPage.n)
            .limit(THUMBS_ASKED + len(asked)))
    return [r.id for r in rows if r.id not in asked][:THUMBS_ASKED]


def _keep_thumb(ctx, page_id: str, b64: str) -> int:
    try:
        raw = base64.b64decode(b64, validate=True)
    except ValueError:
        return 0
    if not raw.startswith(b"\xff\xd8"):  # a JPEG, as the hub makes them, or nothing
        return 0
    folder = store.derived_dir(ctx.data_dir, page_id)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "thumb.jpg.part"
    tmp.write_bytes(raw)
    os.replace(tmp, folder / "thumb.jpg")
    return len(raw)


def _remember(kind: str, page_keys) -> None:
    rows = [{"kind": kind, "key": k} for k in page_keys]
    if rows:
        FileHeld.insert_many(rows).on_conflict_ignore().execute()


# The hub's side.

def answer_request(ctx, data: bytes) -> bytes:
    dev, header, meta, evs = receive.open_batch(ctx, data)
    question = meta.get("files")
    if evs or not isinstance(question, dict):
        raise receive.Refusal("bad_batch", "a files request carries a question and no events")
    if "offer" in question:
        said = _wanted(ctx, dev, question["offer"])
    elif "put" in question:
        said = _put(ctx, dev, question["put"])
    elif "get" in question:
        said = _give(ctx, dev, question["get"])
    elif "thumbs" in question:
        said = _thumbs(ctx, question["thumbs"])
    else:
        raise receive.Refusal("bad_batch", "a files request asks nothing the hub knows")
    return receive.seal_for(ctx, dev, {"request": header.batch_hex, "files": said}, [])


def _named(dev, sha, ext) -> int | None:
    """The size a (not restricted) document of the device's own library, or a copy its
    library handles, gives this master; None when none names it."""
    if ext == "pdf":
        size = copies.sendable_by(dev.library, sha)
        if size is not None:
            return size
    row = (DigitalPage.select(DigitalPage.size)
           .join(DigitalDocument, on=(DigitalPage.document == DigitalDocument.id))
           .where((DigitalPage.sha256 == sha) & (DigitalPage.ext == ext)
                  & (DigitalDocument.library == dev.library)
                  & (DigitalDocument.access != "restricted") & ~DigitalDocument.deleted)
           .first())
    return None if row is None else row.size


def _part(ctx, sha: str, ext: str) -> Path:
    return Path(ctx.data_dir) / INCOMING / f"{sha}.{ext}.part"


def _wanted(ctx, dev, offer) -> dict:
    if not isinstance(offer, list) or len(offer) > OFFER:
        raise receive.Refusal("bad_batch", "a files offer is a list of at most 200 masters")
    want, held = {}, []
    for entry in offer:
        sha, ext, size = _file_of(entry)
        if store.master_path(ctx.data_dir, sha, ext).exists():
            held.append(sha)
        elif _named(dev, sha, ext) == size:  # else not the device's to send: not asked for
            part = _part(ctx, sha, ext)
            want[sha] = part.stat().st_size if part.exists() else 0
    return {"want": want, "held": held}


def _file_of(entry) -> tuple[str, str, int]:
    try:
        sha, ext, size = entry
        if (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)
                and ext in store.EXTS and isinstance(size, int) and size > 0):
            return sha, ext, size
    except (TypeError, ValueError):
        pass
    raise receive.Refusal("bad_batch", "a master is named by its sha256, kind and size")


def _put(ctx, dev, put) -> dict:
    if not isinstance(put, dict):
        raise receive.Refusal("bad_batch", "a put names a master, an offset and bytes")
    sha, ext, _size = _file_of([put.get("sha256"), put.get("ext"), 1])
    offset = put.get("offset")
    size = _named(dev, sha, ext)
    if size is None:
        raise receive.Refusal("not_yours", "no document of this device's library names "
                                           "that master", 403)
    try:
        chunk = base64.b64decode(str(put.get("data")), validate=True)
    except ValueError:
        raise receive.Refusal("bad_batch", "a chunk's bytes are not base64") from None
    took = _take(ctx, sha, ext, size, offset, chunk, dev.id)
    if took.pop("done", False):
        _derive(ctx, sha)
    return took


def _take(ctx, sha, ext, size, offset, chunk, sender) -> dict:
    """A chunk of a file coming in, on either side: appended at ``offset`` to its
    ``.part``; once whole, checked against ``sha`` and made a master ("done"), or
    dropped ("bad"). Otherwise says how much is held, where the sender goes on from."""
    with _lock:  # the hub's threads append to a part one at a time
        if store.master_path(ctx.data_dir, sha, ext).exists():
            return {"held": size}
        part = _part(ctx, sha, ext)
        part.parent.mkdir(parents=True, exist_ok=True)
        held = part.stat().st_size if part.exists() else 0
        if held < size:
            if offset != held or not chunk or len(chunk) > CHUNK or held + len(chunk) > size:
                return {"held": held}  # sent again, or from the wrong place
            with open(part, "ab") as f:
                f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            held += len(chunk)
            if held < size:
                return {"held": held}
        if held != size or store.file_sha256(part) != sha:
            part.unlink()
            log.warning("sync: file %s.%s from %s did not match its checksum: refused",
                        sha, ext, sender)
            return {"held": 0, "bad": "the file did not match its checksum"}
        target = store.master_path(ctx.data_dir, sha, ext)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
        return {"held": size, "done": True}


def _give(ctx, dev, get) -> dict:
    """A chunk of a copy's PDF for a device of the library that handles the copy or of
    the patron's home library; ``missing`` while the hub does not hold it yet."""
    if not isinstance(get, dict):
        raise receive.Refusal("bad_batch", "a get names a copy and an offset")
    sha, ext, _size = _file_of([get.get("sha256"), get.get("ext"), 1])
    size = copies.fetchable_by(dev.library, sha) if ext == "pdf" else None
    if size is None:
        raise receive.Refusal("not_yours", "no copy of this device's library or of its "
                                           "patrons names that file", 403)
    offset = get.get("offset")
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset < size:
        raise receive.Refusal("bad_batch", "a get's offset is within the file")
    path = store.master_path(ctx.data_dir, sha, "pdf")
    if not path.exists():
        return {"missing": True}
    with open(path, "rb") as f:
        f.seek(offset)
        return {"data": base64.b64encode(f.read(CHUNK)).decode()}


def _derive(ctx, sha: str) -> None:
    """The hub's own images of the pages the new master holds (its OCR text came as
    events from the branch)."""
    page_ids = [p.id for p in DigitalPage.select(DigitalPage.id).where(DigitalPage.sha256 == sha)]
    with events.writing(ctx):
        jobs.enqueue(page_ids, kinds=("derive",))


def _thumbs(ctx, wanted) -> dict:
    if not isinstance(wanted, list) or len(wanted) > THUMBS_ASKED or not all(
            isinstance(p, str) and len(p) <= 80 for p in wanted):
        raise receive.Refusal("bad_batch", "thumbnails are asked for by page, 40 at most")
    pages = (DigitalPage.select(DigitalPage.id)
             .join(DigitalDocument, on=(DigitalPage.document == DigitalDocument.id))
             .where(DigitalPage.id.in_(wanted) & (DigitalDocument.access != "restricted")
                    & ~DigitalDocument.deleted))
    out = {}
    for page in pages:
        path = store.derived_dir(ctx.data_dir, page.id) / "thumb.jpg"
        if path.is_file():
            out[page.id] = base64.b64encode(path.read_bytes()).decode()
    return {"thumbs": out}
