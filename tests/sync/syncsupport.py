"""Helpers for the sync tests: data folders, a hub in its own process, seeding."""

import os
import signal
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

import sync.hub  # noqa: F401  (registers sync's tables)
from appliance.core import catalogue, datadir, events, patrons, users
from appliance.core.context import Context
from sync import enrol, files, link
from tests.conftest import PASSWORD, unavailable

HERE = Path(__file__).parent


def init(path, library, role="branch", database=None):
    ctx = datadir.init(path, library, f"Thư viện {library}", role=role, database=database)
    ctx.close()
    return path


@contextmanager
def opened(path):
    ctx = Context.open(path)
    try:
        yield ctx
    finally:
        ctx.close()


class HubProcess:
    """A real waitress server in a child process, so it can be killed mid-batch."""

    def __init__(self, data_dir, port=0, threads=4):
        self.data_dir, self.port, self.threads = data_dir, port, threads
        self.proc = None

    def start(self):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.log = Path(self.data_dir) / "server.log"  # a file: a full pipe would stall the hub
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(HERE / "hubserver.py"), str(self.data_dir),
                 str(self.port), str(self.threads)], stdout=subprocess.PIPE, stderr=log,
                env=env, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.proc.kill()
            raise RuntimeError("hub did not start: " + line + self.log.read_text())
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait(10)
            self.proc.stdout.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def set_settings(data_dir, **values):
    from appliance.core.context import load_settings, save_settings

    settings = load_settings(data_dir)
    settings.update(values)
    save_settings(data_dir, settings)


def make_town(tmp_path, libraries=("PY-DH01",), hub_db=None, auto_approve=True):
    """A hub and enrolled branches; returns (hub_dir, {library: branch_dir}, tokens).

    The hub approves devices at enrolment unless ``auto_approve`` is false."""
    hub_dir = init(tmp_path / "hub", "PY-TV00", role="hub", database=hub_db)
    set_settings(hub_dir, auto_approve=auto_approve)
    with opened(hub_dir) as ctx:
        tokens = {lib: enrol.create_token(ctx, lib) for lib in libraries}
    branches = {lib: init(tmp_path / lib, lib) for lib in libraries}
    return hub_dir, branches, tokens


def enrol_all(hub_url, branches, tokens):
    for lib, path in branches.items():
        with opened(path) as ctx:
            enrol.enrol_with(ctx, hub_url, tokens[lib])


@contextmanager
def running_town(tmp_path, libraries=("PY-DH01", "PY-DH02"), hub_db=None, admin="town"):
    """A town at work: a hub in its own process with a hub admin (``admin``, the tests'
    PASSWORD; ``admin=None`` for a hub nobody signs in to) and every library's branch
    enrolled. Yields a namespace: ``hub`` (the process, with its ``url``), ``hub_dir``,
    ``branches`` ({library: data folder}) and ``tokens``; a test may add to it what its
    own start makes."""
    hub_dir, branches, tokens = make_town(tmp_path, libraries, hub_db=hub_db)
    if admin:
        with opened(hub_dir) as ctx:
            users.create(ctx, admin, PASSWORD, "hub_admin")
    with HubProcess(hub_dir) as hub:
        enrol_all(hub.url, branches, tokens)
        yield SimpleNamespace(hub=hub, hub_dir=hub_dir, branches=branches, tokens=tokens)


@contextmanager
def deadline_at(kind, n):
    """While the block runs, a sync run's deadline comes at its `n`th `kind` question of
    a file ("put" sends a chunk up, "get" fetches one down): a transfer cut mid-file."""
    real_ask, asked = files._ask, []

    def cut(ctx, run, question):
        if kind in question:
            asked.append(question[kind]["offset"])
            if len(asked) == n:
                raise link.DeadlinePassed()
        return real_ask(ctx, run, question)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(files, "_ask", cut)
        yield


def seed(ctx, n_items=5, n_patrons=3, prefix=None):
    """Patrons, one record and copies at this library; returns (cards, barcodes)."""
    prefix = prefix or ctx.library[-4:]
    bib = catalogue.save_bib(ctx, {"title": "Đất rừng phương Nam", "authors": ["Đoàn Giỏi"],
                                   "language": "vie"})
    bib_id = bib["id"] if isinstance(bib, dict) else bib.id
    cards = []
    for i in range(n_patrons):
        card = f"{prefix}P{i:04d}"
        patrons.save(ctx, {"card": card, "name": f"Bạn đọc {i}", "category": "adult"})
        cards.append(card)
    barcodes = []
    for i in range(n_items):
        code = f"{prefix}I{i:05d}"
        catalogue.save_item(ctx, {"bib": bib_id, "barcode": code})
        barcodes.append(code)
    return cards, barcodes


def chain(ctx, origin):
    return [e.seq for e in events.since(origin, 0, 10**9)]


def busy_day(ctx, n_events, n_items=20, n_patrons=10):
    """About ``n_events`` loan events (checkouts and returns) at the desk."""
    from appliance.core import circulation
    from appliance.core.errors import DomainError

    cards, codes = seed(ctx, n_items=n_items, n_patrons=n_patrons)
    start = events.head(ctx.origin)[0]
    k = 0
    while events.head(ctx.origin)[0] - start < n_events:
        code = codes[k % n_items]
        try:
            circulation.checkout(ctx, cards[k % n_patrons], code)
        except DomainError:
            circulation.checkin(ctx, code)
        k += 1
    return events.head(ctx.origin)[0]


def sync_until_done(ctx, url, attempts=40, **kw):
    """Run the agent until a run completes, as the scheduler would; returns the runs made."""
    from sync import agent, protocol

    for i in range(1, attempts + 1):
        try:
            agent.run_once(ctx, url=url, **kw)
            return i
        except protocol.SyncError:
            continue
    raise AssertionError(f"sync did not complete in {attempts} runs")


def hub_holds_exactly(hub_dir, origin, head):
    from appliance.core.models import Event
    from appliance.core.verify import verify

    with opened(hub_dir) as h:
        seqs = [e.seq for e in Event.select(Event.seq).where(Event.origin == origin)
                .order_by(Event.seq)]
        assert seqs == list(range(1, head + 1))
        assert verify(h) == []


@contextmanager
def hub_database(backend):
    """None for SQLite in the hub's folder, or a postgresql:// URL to a fresh schema."""
    if backend == "sqlite":
        yield None
        return
    url = os.environ.get("THUVIEN_TEST_PG")
    if not url:

        unavailable("PostgreSQL is not running (use scripts/test-services.sh)")
    import secrets

    import psycopg2

    schema = "sync_" + secrets.token_hex(4)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    conn.close()
    try:
        url_schema = f"{url}?options=-csearch_path%3D{schema}"
        yield url_schema
    finally:
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


@contextmanager
def connected_hub_database(backend, folder):
    """A hub's database connected: SQLite in `folder`, or a fresh PostgreSQL schema."""
    from appliance.core import db as dbmod

    with hub_database(backend) as url:
        made = dbmod.connect(url or str(folder / "thuvien.db"))
        try:
            yield made
        finally:
            made.close()


# Every test of what the hub does runs against both databases a hub may use.
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS, name="hub_db")
def hub_db_fixture(request):
    """`hub_db`: the hub's database for one test, None (SQLite in its folder) or a fresh
    PostgreSQL schema. Tests outside tests/sync import this to use it."""
    with hub_database(request.param) as url:
        yield url


def _remap(value, ids, lib_from, lib_to):
    """The template branch's events as another branch's: new ids (but those already in
    `ids`), its library code."""
    if isinstance(value, dict):
        return {k: _remap(v, ids, lib_from, lib_to) for k, v in value.items()}
    if isinstance(value, list):
        return [_remap(v, ids, lib_from, lib_to) for v in value]
    if isinstance(value, str):
        if value == lib_from:
            return lib_to
        if len(value) == 36 and value.count("-") == 4:
            if value not in ids:  # a fresh UUIDv7 with the same creation time
                raw = bytearray(uuid.UUID(value).bytes[:6] + os.urandom(10))
                raw[6], raw[8] = 0x70 | raw[6] & 0x0F, 0x80 | raw[8] & 0x3F
                ids[value] = str(uuid.UUID(bytes=bytes(raw)))
            return ids[value]
    return value


def chain_as(template, origin, lib_from, lib_to, ids=None):
    """A branch's own hash chain made of the template's events; `ids` maps the
    template's ids that stay shared (town-wide cards) to themselves."""
    ids, prev, out = dict(ids or {}), events.GENESIS, []
    for ev in template:
        d = _remap({k: v for k, v in ev.items() if k not in ("hash", "prev_hash", "origin")},
                   ids, lib_from, lib_to)
        d.update(origin=origin, prev_hash=prev)
        d["hash"] = prev = events.event_hash(d)
        out.append(d)
    return out
