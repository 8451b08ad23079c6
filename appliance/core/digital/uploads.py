"""Resumable, chunked uploads from the desk: a 300 MB PDF survives a dropped link.

The desk asks for an upload (name and size), sends the file in chunks, each at the
offset the server holds (`append` refuses any other offset and says where to go on),
and after a cut asks where it stands (`status`) and goes on from there. The bytes are
written to `digital/uploads/<id>.part` and flushed per chunk; finished uploads are
turned into a document (documents.attach) and removed."""

import os
import time
from pathlib import Path

from ..errors import N_, Invalid, NotFound
from ..filestore import at
from ..ids import new_id
from ..models import UploadSession

MAX_SIZE = 2 * 1024 ** 3  # 2 GB: a very long scanned book
MAX_CHUNK = 8 * 1024 ** 2
KEEP_SECONDS = 7 * 24 * 3600  # an upload not finished in a week is dropped


def _path(files, upload_id):
    # the store's own: a practice copy's uploads are its own, never the real library's
    return at(files).own("digital", "uploads", f"{upload_id}.part")


def start(ctx, username, filename, size):
    name = Path(str(filename or "")).name[:255]
    if not name:
        raise Invalid("no_file_name", N_("The file has no name."))
    if not isinstance(size, int) or size <= 0 or size > MAX_SIZE:
        raise Invalid("bad_upload_size", N_("A file to upload must be between 1 byte and "
                                            "2 GB."))
    upload_id = new_id()
    path = _path(ctx.files, upload_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    UploadSession.create(id=upload_id, username=username, filename=name, size=size,
                         received=0, created_at=time.time())
    return upload_id


def get(upload_id, username):
    row = UploadSession.get_or_none(UploadSession.id == upload_id)
    if row is None or row.username != username:
        raise NotFound("no_upload", N_("No upload %(id)s."), id=upload_id)
    return row


def append(ctx, upload_id, username, offset, data):
    """Add a chunk at `offset`; the bytes held afterwards. A chunk sent again after a cut
    (its offset below what is held) is skipped; one beyond it is refused."""
    row = get(upload_id, username)
    if len(data) > MAX_CHUNK:
        raise Invalid("chunk_too_large", N_("A chunk may be at most 8 MB."))
    if offset != row.received:
        if offset + len(data) <= row.received:
            return row.received  # already held
        raise Invalid("bad_offset", N_("The upload holds %(received)s bytes: go on from "
                                       "there."), http_status=409, received=row.received)
    if row.received + len(data) > row.size:
        raise Invalid("upload_too_long", N_("The file is longer than announced."))
    path = _path(ctx.files, upload_id)
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    received = offset + len(data)
    UploadSession.update(received=received).where(UploadSession.id == upload_id).execute()
    return received


def finished_files(ctx, upload_ids, username):
    """The files of finished uploads, in the order given, named as uploaded (a folder
    of their own: the readers know a file by its contents, people by its name)."""
    files = []
    for upload_id in upload_ids:
        row = get(upload_id, username)
        if row.received != row.size:
            raise Invalid("upload_unfinished", N_("%(name)s is not fully uploaded yet."),
                          name=row.filename)
        files.append(_path(ctx.files, upload_id))
    return files


def forget(ctx, upload_ids):
    for upload_id in upload_ids:
        _path(ctx.files, upload_id).unlink(missing_ok=True)
        UploadSession.delete().where(UploadSession.id == upload_id).execute()


def drop_stale(ctx, now=None):
    cutoff = (now or time.time()) - KEEP_SECONDS
    stale = [r.id for r in UploadSession.select().where(UploadSession.created_at < cutoff)]
    forget(ctx, stale)
    return len(stale)
