"""Masters and derivatives on disk, in the data folder.

A master is kept under its content's name, `digital/masters/ab/<sha256>.<ext>`: the same
scan imported twice is kept once, a name says what the bytes must be (`verify`), and a
backup copies only the masters it does not hold yet (`backup_to`). Derivatives (web
images, thumbnails, OCR word boxes, IIIF answers) are made again from the masters
whenever they are missing: `digital/derived/<page id>/`.

Files are found through a context's file store (`ctx.files`, core/filestore.py; a data
folder's path does too): a practice copy reads the real masters and pages and keeps
what it makes in its own folder."""

import hashlib
import os
import shutil
from pathlib import Path

from ..filestore import at

CHUNK = 1 << 20
EXTS = ("jpg", "png", "tif", "pdf")


def root(data_dir):
    return Path(data_dir) / "digital"


def _master(sha256, ext):
    return ("digital", "masters", sha256[:2], f"{sha256}.{ext}")


def master_path(files, sha256, ext):
    """Where a master is read (it may not be held here)."""
    return at(files).read(*_master(sha256, ext))


def derived_dir(files, page_id):
    """The folder a page's derivatives are made in (the store's own)."""
    return at(files).own("digital", "derived", page_id)


def derived(files, page_id, *name):
    """Where one derivative of a page is read (it may not be made yet)."""
    return at(files).read("digital", "derived", page_id, *name)


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def put(files, source, ext):
    """Keep the file at `source` as a master; (sha256, size, path). Written beside its
    place and renamed in, so a master is never half there; one held already (by its
    name, its content) is not written again."""
    sha = file_sha256(source)
    target = master_path(files, sha, ext)
    if not target.exists():
        target = at(files).write(*_master(sha, ext))
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(source, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    return sha, target.stat().st_size, target


def verify(files, masters):
    """Faults among `masters` [(sha256, ext)]: each must be there and hash to its name."""
    faults = []
    for sha, ext in sorted(set(masters)):
        path = master_path(files, sha, ext)
        if not path.exists():
            faults.append(f"digital master {sha}.{ext} is missing")
        elif file_sha256(path) != sha:
            faults.append(f"digital master {sha}.{ext} does not match its checksum")
    return faults


def masters_beside(backup):
    """Where a backup keeps the masters: `<file>.masters/` beside a backup file, one
    shared `masters/` in a folder of rotated backups (content-addressed names: every
    backup of the folder finds its masters there, and each is kept once)."""
    backup = Path(backup)
    if backup.is_dir():
        return backup / "masters"
    shared = backup.parent / "masters"
    own = Path(str(backup) + ".masters")
    return shared if shared.is_dir() and not own.is_dir() else own


def backup_to(data_dir, dest, progress=None):
    """Copy the masters into `dest` (masters_beside); those already there are kept (a
    name is its content). Copies, never hard links: damage to a master must not reach
    its backup. Returns how many the backup holds."""
    source = root(data_dir) / "masters"
    if not source.is_dir():
        return 0
    dest = Path(dest)
    files = sorted(p for p in source.rglob("*") if p.is_file() and not p.name.endswith(".part"))
    for i, path in enumerate(files, 1):
        target = dest / path.relative_to(source)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".part")
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        if progress:
            progress(i, len(files))
    return len(files)


def restore_from(backup_file, data_dir):
    """Bring back the masters kept beside a backup: those missing or damaged here."""
    source = masters_beside(backup_file)
    if not source.is_dir():
        return 0
    dest = root(data_dir) / "masters"
    count = 0
    for path in source.rglob("*"):
        if path.is_file():
            target = dest / path.relative_to(source)
            if not target.exists() or file_sha256(target) != target.name.split(".")[0]:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            count += 1
    return count
