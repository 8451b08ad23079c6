"""The practice copy (chế độ thực hành): a staff member's own copy of their library, in
which everything works and nothing is real.

The copy is the real SQLite database copied page by page (backup.py), with every
patron's name, phone, e-mail, guardian and date of birth made up (`names`) and every
PIN set to PRACTICE_PIN, in the log as in the state: patron events are rewritten, the
chains that held them hashed again, and the state rebuilt from the log, so `verify`
holds in the copy too. Cards, copies, loans, holds and rules stay as they are, so the
library's own barcodes work.

One process serves real and practice users at once: a request of a user in practice
mode binds the copy to its own thread only (`bound`, models.SwitchableProxy), and gets
a PracticeContext, which senders ask (`is_practice`) before anything leaves the device:
the sync agent refuses it, the town card check asks no hub (an away card is lent on
its own), the devices client neither prints nor writes RFID tags.
The copy is a file of its own in the data folder (practice/<account>.db); the real
database is never written while a practice request runs. The library's files (covers,
the digital library's masters and pages, copies' PDFs, uploads) are the copy's own too:
its file store (core/filestore.py) is practice/<account>.files/ laid over the real data
folder, so the copy reads the real covers and pages and writes and removes only its own.
A copy made afresh starts without them. The data folder itself (`data_dir`) stays the
device's: its settings and keys are what the copy runs with.
"""

import json
import os
import re
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import peewee as pw

from .. import backup, events, passwords, verify
from ..context import Context
from ..db import SCHEMA_VERSION, SQLITE_PRAGMAS, schema_version
from ..errors import N_, Invalid
from ..filestore import FileStore
from ..models import (
    AuditLog,
    Event,
    LoginThrottle,
    NoticeMail,
    Patron,
    PinAttempt,
    Setting,
    database_proxy,
)
from ..rights import keys
from . import names

FOLDER = "practice"
PRACTICE_PIN = "1234"
# A patron's personal data, each made up from the card's id (names.py).
_MADE_UP = {"name": names.full_name, "phone": names.phone, "email": names.email,
            "guardian": names.guardian, "guardian_email": names.email,
            "address": names.address}


class PracticeContext(Context):
    """A Context on a practice copy: `practice` tells every sender to send nothing."""
    practice = True
    owner = ""


def is_practice(ctx):
    return bool(getattr(ctx, "practice", False))


@contextmanager
def bound(db):
    """Models use `db` in this thread for the block's length (other threads: unchanged)."""
    held = database_proxy.thread_bound()
    database_proxy.bind_thread(db)
    try:
        yield db
    finally:
        database_proxy.bind_thread(held)


def path_for(ctx, username):
    if ctx.data_dir is None:
        raise Invalid("practice_no_folder", N_("Practice mode needs the library's data "
                                               "folder."))
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", username)
    return Path(ctx.data_dir) / FOLDER / f"{safe}.db"


def files_for(ctx, username):
    """The copy's own folder of files, beside its database."""
    path = path_for(ctx, username)
    return path.with_name(path.stem + ".files")


def _real_path(ctx):
    if not isinstance(ctx.db, pw.SqliteDatabase):
        raise Invalid("practice_needs_sqlite", N_("Practice mode copies a library's SQLite "
                                                  "database; this one is on PostgreSQL. "
                                                  "Practise at a branch's desk."))
    return ctx.db.database


def _open_db(path):
    db = pw.SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    db.connect(reuse_if_open=True)
    return db


def _context(ctx, db, owner):
    with bound(db):
        practice = PracticeContext(db, ctx.library, ctx.origin, ctx.role,
                                   data_dir=ctx.data_dir, settings=ctx.settings)
    practice.owner = owner
    own = files_for(ctx, owner)
    own.mkdir(parents=True, exist_ok=True)
    # read through to the real folder, written only here: nothing real is touched
    practice.files = FileStore(own, lower=ctx.data_dir)
    return practice


def make(ctx, username):
    """A fresh practice copy for `username`, replacing any earlier one."""
    path = path_for(ctx, username)
    made = backup.backup(_real_path(ctx), path.with_name(path.name + ".new"))
    shutil.rmtree(files_for(ctx, username), ignore_errors=True)  # the last copy's files
    db = _open_db(made)
    try:
        practice = _context(ctx, db, username)
        with bound(db):
            anonymise(practice)
    finally:
        db.close()
    os.replace(made, path)
    for suffix in ("-wal", "-shm"):  # a journal of the copy replaced would be applied to this
        Path(str(path) + suffix).unlink(missing_ok=True)
    return path


def open_copy(ctx, username, fresh=False):
    """The PracticeContext of `username`'s copy, made first when there is none."""
    path = path_for(ctx, username)
    if not fresh and path.exists() and _schema_of(path) != SCHEMA_VERSION:
        fresh = True  # made by an earlier version of the software: made again, not migrated
    if fresh or not path.exists():
        make(ctx, username)
    return _context(ctx, _open_db(path), username)


def _schema_of(path):
    db = _open_db(path)
    try:
        with bound(db):
            return schema_version(db)
    finally:
        db.close()


class Copies:
    """The practice copies one process has open, one PracticeContext an account, shared
    by the web requests (web/training.py) and the digital queue's worker, which works
    the jobs of every copy that has some (`with_jobs`) as the real library's. A copy is
    made again or dropped only between two of the worker's jobs (`working`), so a job
    never writes a fresh copy's files from the old copy's pages."""

    def __init__(self, real):
        self.real = real
        self._held: dict[str, PracticeContext] = {}
        self._lock = threading.Lock()
        self._busy: dict[str, threading.Lock] = {}  # an account's: the worker's job in it

    def get(self, username, fresh=False):
        """`username`'s PracticeContext, made first when there is none."""
        held = self._held.get(username)  # every practice request asks: no lock to pass
        if held is not None and not fresh:
            return held
        with self._lock, self._busy_of(username):
            held = self._held.get(username)
            if held is not None and not fresh:
                return held
            if held is not None:
                held.close()
            made = self._held[username] = open_copy(self.real, username, fresh=fresh)
            return made

    def drop(self, username):
        with self._lock, self._busy_of(username):
            held = self._held.pop(username, None)
            if held is not None:
                held.close()

    def current(self, username):
        """The copy held for `username` now (None once dropped)."""
        return self._held.get(username)

    def working(self, username):
        """Held by the worker for one job of `username`'s copy: the copy is not made
        again nor dropped meanwhile."""
        return self._busy_of(username)

    def _busy_of(self, username):
        return self._busy.setdefault(username, threading.Lock())

    def with_jobs(self):
        """The copies in the data folder holding digital jobs still to do, opened."""
        return [self.get(owner) for owner in queued_owners(self.real)]


def queued_owners(ctx):
    """Accounts whose copy (of this version's schema: an older one is made again, its
    jobs with it) holds digital jobs queued or running; read without opening it. A
    copy's file is named by its account (user names are of the characters path_for
    keeps)."""
    folder = Path(ctx.data_dir) / FOLDER if ctx.data_dir else None
    if folder is None or not folder.is_dir():
        return []
    return [path.stem for path in sorted(folder.glob("*.db")) if _has_jobs(path)]


def _has_jobs(path):
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return False
    try:
        version = db.execute("SELECT value FROM setting WHERE key = 'schema_version'"
                             ).fetchone()
        if version != (json.dumps(SCHEMA_VERSION),):
            return False
        return db.execute("SELECT 1 FROM digital_job WHERE state IN ('queued', 'running') "
                          "LIMIT 1").fetchone() is not None
    except sqlite3.Error:  # made by another version, or half made: not this worker's
        return False
    finally:
        db.close()


def discard(ctx, username):
    path = path_for(ctx, username)
    for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm")):
        p.unlink(missing_ok=True)
    shutil.rmtree(files_for(ctx, username), ignore_errors=True)


# Making the data up (in the copy, bound to this thread).

def _made_up(patron_id, pin_hash):
    out = {k: make_up(patron_id) for k, make_up in _MADE_UP.items()}
    out["pin_hash"] = pin_hash
    return out


def _scrub_fields(fields, made, patron_id=None):
    out = dict(fields)
    for key, value in fields.items():
        if keys.is_sealed(value):  # sealed with the card's key (core/rights): opened here
            value = out[key] = keys.open_value(patron_id, key, value)
        if key == "birth_date" and value:
            out[key] = str(value)[:4] + "-01-01"  # the year stays: it sets a child's rules
        elif key in made and value:
            out[key] = made[key]
    return out


def _scrub_events(pin_hash):
    """Rewrite patron events (and a postal request's address) with made-up data;
    {origin: first seq changed}."""
    changed: dict[str, int] = {}
    for ev in Event.select().where(Event.kind << ("patron.saved", "request.placed"))\
            .order_by(Event.pos):
        body = json.loads(ev.body)
        if ev.kind == "request.placed":
            if body.get("address"):
                address = names.address(body.get("patron_id"))
                Event.update(body=events.canonical(dict(body, address=address))).where(
                    Event.id == ev.id).execute()
                changed[ev.origin] = min(changed.get(ev.origin, ev.seq), ev.seq)
            continue
        if not isinstance(body.get("fields"), dict):
            continue
        scrubbed = dict(body, fields=_scrub_fields(body["fields"],
                                                   _made_up(body.get("id"), pin_hash),
                                                   body.get("id")))
        if scrubbed != body:
            Event.update(body=events.canonical(scrubbed)).where(Event.id == ev.id).execute()
            changed[ev.origin] = min(changed.get(ev.origin, ev.seq), ev.seq)
    return changed


def _rehash(changed):
    """Hash again the events rewritten and every later event of their chains."""
    renamed: dict[str, str] = {}
    for origin, first in changed.items():
        for ev in Event.select().where((Event.origin == origin) & (Event.seq >= first))\
                .order_by(Event.seq):
            d = events.to_dict(ev)
            d["prev_hash"] = renamed.get(d["prev_hash"], d["prev_hash"])
            new = events.event_hash(d)
            if new != ev.hash or d["prev_hash"] != ev.prev_hash:
                renamed[ev.hash] = new
                Event.update(hash=new, prev_hash=d["prev_hash"]).where(
                    Event.id == ev.id).execute()


def anonymise(practice):
    """Every patron's personal data made up, in the log and the state; what the device
    keeps of people besides (audit lines, PIN lock-outs) dropped."""
    pin_hash = passwords.hash_secret(PRACTICE_PIN)
    with practice.db.atomic():
        _rehash(_scrub_events(pin_hash))
        for model in (AuditLog, PinAttempt, LoginThrottle, NoticeMail):
            model.delete().execute()
        Setting.insert(key="practice", value={"made": time.time()}).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: {"made": time.time()}}
        ).execute()
    verify.rebuild(practice)
    # a card edited only by events this copy does not hold (a relayed, trimmed one): its row
    for patron in Patron.select():
        made = _made_up(patron.id, pin_hash)
        if patron.name != made["name"]:
            Patron.update(name=made["name"], phone=made["phone"] if patron.phone else None,
                          email=made["email"] if patron.email else None,
                          guardian=made["guardian"] if patron.guardian else None).where(
                Patron.id == patron.id).execute()
