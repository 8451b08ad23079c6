"""The library's files beside its database: covers, the digital library's masters and
pages, the PDFs of copies asked for, uploads waiting for their next step, the
suggestions' model. Every module that keeps such a file asks a context's `files` (a
FileStore) where to read, write or remove it, never `data_dir` itself.

A context's store is its data folder. A practice copy's (training/practice.py) is a
folder of its own under practice/, laid over the real data folder: a file is read from
the practice folder when it holds it (or removed it), else from the real one; it is
written and removed only in the practice folder. The copy sees the library's covers
and pages as they are, and nothing done in it touches them."""

from pathlib import Path

GONE = ".gone"  # beside a file removed from a store whose lower folder still holds it


class FileStore:
    def __init__(self, root, lower=None):
        self.root = Path(root)
        self.lower = Path(lower) if lower is not None else None

    def read(self, *parts) -> Path:
        """Where the file is read (it may not exist): this store's own, unless it never
        held it and the lower folder does."""
        own = self.root.joinpath(*parts)
        if self.lower is None or own.exists() or _gone(own).exists():
            return own
        below = self.lower.joinpath(*parts)
        return below if below.exists() else own

    def write(self, *parts) -> Path:
        """Where the file is written: always this store's own folder (made here)."""
        own = self.root.joinpath(*parts)
        own.parent.mkdir(parents=True, exist_ok=True)
        if self.lower is not None:
            _gone(own).unlink(missing_ok=True)  # written again after a removal: seen again
        return own

    def remove(self, *parts):
        """The file is gone for this store's readers; a lower folder's is left as it is
        and marked gone here."""
        own = self.root.joinpath(*parts)
        own.unlink(missing_ok=True)
        if self.lower is not None and self.lower.joinpath(*parts).exists():
            own.parent.mkdir(parents=True, exist_ok=True)
            _gone(own).touch()

    def own(self, *parts) -> Path:
        """A path in this store's own folder, never read from below: what it writes as a
        whole (a page's derived images), its working files (uploads in progress)."""
        return self.root.joinpath(*parts)


def at(place) -> FileStore:
    """A FileStore for `place`: a store as it is, a data folder's path as its store (for
    tools that work on a real data folder: sync, backups)."""
    return place if isinstance(place, FileStore) else FileStore(place)


def _gone(path):
    return path.with_name(path.name + GONE)
