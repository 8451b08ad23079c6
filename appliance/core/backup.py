"""Online backups of the SQLite database, checked, rotated, and a tested restore."""

import os
import sqlite3
import time
from pathlib import Path

from .errors import N_, Invalid


class BackupError(Exception):
    pass


def _integrity(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        result = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as e:
        raise Invalid("bad_backup", N_("%(path)s is not a thuvien database: %(reason)s"),
                      path=str(path), reason=str(e))
    finally:
        con.close()
    if result != ["ok"]:
        raise Invalid("bad_backup", N_("%(path)s is damaged: %(reason)s"), path=str(path),
                      reason="; ".join(result[:5]))
    if not {"event", "setting", "item", "loan"} <= tables:
        raise Invalid("bad_backup", N_("%(path)s is not a thuvien database: %(reason)s"),
                      path=str(path), reason="tables missing")


def backup(db_path, dest, progress=None):
    """Copy a live database page by page (writers keep working), then check the copy."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    src = sqlite3.connect(str(db_path))
    out = sqlite3.connect(str(tmp))
    try:
        def step(status, remaining, total):
            if progress:
                progress(total - remaining, total)
        src.backup(out, pages=256, progress=step)
        out.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as e:  # a full disk lands here: leave nothing half written
        out.close()
        tmp.unlink(missing_ok=True)
        raise BackupError(f"backup failed: {e}") from e
    finally:
        src.close()
    out.close()
    _integrity(tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dest)
    return dest


def rotate(folder, keep=7, prefix="thuvien-"):
    """Keep the newest `keep` backups in a folder."""
    files = sorted(Path(folder).glob(f"{prefix}*.db"), key=lambda p: p.stat().st_mtime)
    for old in files[:-keep] if keep else files:
        old.unlink()


def nightly(db_path, folder, keep=7):
    dest = Path(folder) / time.strftime("thuvien-%Y%m%d-%H%M%S.db")
    backup(db_path, dest)
    rotate(folder, keep)
    return dest


def restore(backup_path, db_path):
    """Replace the database with a checked backup. The service must be stopped."""
    backup_path, db_path = Path(backup_path), Path(db_path)
    if not backup_path.exists():
        raise Invalid("no_backup", N_("%(path)s does not exist."), path=str(backup_path))
    _integrity(backup_path)
    tmp = db_path.with_name(db_path.name + ".restore")
    src = sqlite3.connect(str(backup_path))
    out = sqlite3.connect(str(tmp))
    try:
        src.backup(out)
    finally:
        src.close()
        out.close()
    for suffix in ("-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    os.replace(tmp, db_path)
    return db_path
