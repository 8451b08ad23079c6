"""The context every command runs in: database, this device, its library, its clock."""

import json
import os
import secrets
from pathlib import Path

from . import db as dbmod
from .clock import HLC
from .filestore import FileStore
from .models import Setting

SETTINGS_FILE = "settings.json"
DB_FILE = "thuvien.db"


def database_of(data_dir, settings):
    """(target, home) of a data folder: its SQLite file or PostgreSQL URL, and who it
    belongs to (the migration steps that clear what this device must not hold)."""
    target = settings.get("database") or str(Path(data_dir) / DB_FILE)
    return target, {"library": settings["library"], "role": settings.get("role", "branch"),
                    "origin": settings["device_id"]}


class Context:
    def __init__(self, db, library, origin, role="branch", data_dir=None, settings=None,
                 wall=None):
        self.db = db
        self.library = library
        self.origin = origin
        self.role = role
        self.data_dir = Path(data_dir) if data_dir else None
        # the library's files (covers, digital pages...): read and written through here,
        # so a practice copy can keep its own (filestore.py)
        self.files = FileStore(self.data_dir) if self.data_dir else None
        self._settings = settings or {}
        self._settings_stamp = self._stamp()
        from .events import log_top  # (events needs the models this module's callers load)

        self.clock = HLC(log_top(), wall)
        learned = Setting.get_or_none(Setting.key == "clock")  # clockfix: the hub's word
        if learned is not None and isinstance(learned.value, dict):
            self.clock.offset_ms = int(learned.value.get("offset_ms") or 0)
            self.clock.learned = json.dumps(learned.value, ensure_ascii=False, sort_keys=True)

    @classmethod
    def for_db(cls, db, library, origin="test-device", role="branch", **kw):
        return cls(db, library, origin, role, **kw)

    @classmethod
    def open(cls, data_dir):
        data_dir = Path(data_dir)
        settings = load_settings(data_dir)
        db = dbmod.connect(*database_of(data_dir, settings))
        return cls(db, settings["library"], settings["device_id"], settings.get("role", "branch"),
                   data_dir=data_dir, settings=settings)

    def _stamp(self):
        try:
            st = (self.data_dir / SETTINGS_FILE).stat() if self.data_dir else None
        except OSError:
            return None
        # Saves replace the file, so a new inode tells a change within one clock tick too.
        return (st.st_mtime_ns, st.st_ino) if st else None

    @property
    def settings(self):
        """The settings, re-read when settings.json changes (a config bundle applied)."""
        stamp = self._stamp()
        if stamp != self._settings_stamp:
            try:
                self._settings = load_settings(self.data_dir)
                self._settings_stamp = stamp
            except (OSError, ValueError):
                pass  # half-written or gone: keep what we had; saves are atomic anyway
        return self._settings

    def transaction(self):
        return self.db.atomic()

    def setting(self, key, default=None):
        return self.settings.get(key, default)

    def close(self):
        if not self.db.is_closed():
            self.db.close()
        if hasattr(self.db, "close_idle"):  # SQLite's connections handed back (core/db.py)
            self.db.close_idle()


class NotInitialised(Exception):
    pass


def load_settings(data_dir):
    path = Path(data_dir) / SETTINGS_FILE
    if not path.exists():
        raise NotInitialised(f"{data_dir} is not a thuvien data folder (run `thuvien init`)")
    return json.loads(path.read_text(encoding="utf-8"))


def save_settings(data_dir, settings):
    """Write settings atomically: a power cut leaves the old file or the new one."""
    path = Path(data_dir) / SETTINGS_FILE
    tmp = path.with_suffix(".tmp")
    try:
        tmp.unlink()  # a leftover would keep its old mode
    except FileNotFoundError:
        pass
    # it holds the secret key: readable by the service's user only, from the first byte
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w",
                   encoding="utf-8") as f:
        json.dump(settings, f, ensure_ascii=False, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def new_device_id(library):
    return f"{library.lower()}-{secrets.token_hex(4)}"
