"""Sync over a bad link, with the hub or the branch killed mid-way, and a wrong clock.

After each: every event at the hub exactly once, both ends verify clean.
"""

import random
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from appliance.core import circulation, events
from appliance.core.clock import HLC
from appliance.core.verify import verify
from sync import agent, link
from sync.models import SyncRefusal
from tests.conftest import free_port
from tests.sync.proxy import FaultProxy
from tests.sync.syncsupport import (
    HubProcess,
    busy_day,
    enrol_all,
    hub_holds_exactly,
    make_town,
    opened,
    seed,
    sync_until_done,
)

LIB = "PY-DH01"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def town(tmp_path, hub_db, monkeypatch):
    # What is under test is that every event arrives once, whatever the link does; how
    # long a run waits between tries has its own tests (test_sync_cuts, test_sync_schedule).
    monkeypatch.setattr(link, "BACKOFF_FIRST_S", 0.05)
    hub_dir, branches, tokens = make_town(tmp_path, (LIB,), hub_db=hub_db)
    hub = HubProcess(hub_dir, port=free_port()).start()
    enrol_all(hub.url, branches, tokens)
    yield hub_dir, branches[LIB], hub
    hub.stop()


def test_throttled_delayed_cut_and_duplicated_link(town):
    hub_dir, branch, hub = town
    rng = random.Random(4)
    cuts = {n: rng.randrange(150, 9000) for n in range(8)}  # the first 8 connections are cut
    with opened(branch) as ctx:
        head = busy_day(ctx, 300)
        with FaultProxy(hub.port, bitrate=64_000, delay=0.25, cut_at=cuts.get,
                        duplicate=True) as link:
            runs = sync_until_done(ctx, link.url, batch=100)
            assert agent.run_once(ctx, url=link.url)["pushed"] == 0
        assert link.stats["cuts"] >= 3 and runs == 1  # cuts are retried within one run
        assert verify(ctx) == []
    hub_holds_exactly(hub_dir, ctx.origin, head)
    with opened(hub_dir):  # the duplicated requests were refused as replays
        assert link.stats["replays"] >= 1
        assert SyncRefusal.select().where(SyncRefusal.code == "replay").exists()


def test_hub_killed_mid_batch(town):
    hub_dir, branch, hub = town
    with opened(branch) as ctx:
        head = busy_day(ctx, 400)
        with FaultProxy(hub.port, bitrate=32_000) as link:
            failed = []
            t = threading.Thread(target=lambda: _run_expect_failure(ctx, link.url, failed))
            t.start()
            _wait(lambda: link.stats["up"] > 4000)
            hub.kill()
            t.join(60)
            assert failed, "the run should fail when the hub dies under it"
            hub.start()  # same port: the proxy keeps pointing at it
            sync_until_done(ctx, link.url)
        assert verify(ctx) == []
    hub_holds_exactly(hub_dir, ctx.origin, head)


def _run_expect_failure(ctx, url, failed):
    from sync import protocol

    try:
        agent.run_once(ctx, url=url, batch=400)
    except protocol.SyncError as exc:
        failed.append(exc)


def test_branch_killed_mid_sync(town):
    hub_dir, branch, hub = town
    with opened(branch) as ctx:
        head = busy_day(ctx, 300)
        origin = ctx.origin
    with FaultProxy(hub.port, bitrate=32_000) as link:
        code = ("import sys; from tests.sync.syncsupport import opened; from sync import agent\n"
                "with opened(sys.argv[1]) as ctx: agent.run_once(ctx, url=sys.argv[2], batch=60)")
        proc = subprocess.Popen([sys.executable, "-c", code, str(branch), link.url], cwd=ROOT)
        try:
            _wait(lambda: link.stats["down"] > 0 and link.stats["up"] > 3000)
        finally:
            proc.kill()
            proc.wait(10)
        assert proc.returncode < 0  # killed, not finished
        with opened(branch) as ctx:
            sync_until_done(ctx, link.url)
            assert verify(ctx) == []
    hub_holds_exactly(hub_dir, origin, head)


def test_branch_clock_years_back(town):
    hub_dir, branch, hub = town
    past = int(datetime(2019, 3, 1, tzinfo=timezone.utc).timestamp() * 1000)
    with opened(branch) as ctx:
        cards, codes = seed(ctx, n_items=4, n_patrons=2)
        ctx.clock = HLC(ctx.clock.last, wall=lambda: past)  # a Pi booted without its clock
        today = ctx.clock.today()
        loans = [circulation.checkout(ctx, cards[0], c) for c in codes[:3]]
        assert all(loan["due_date"] > today.isoformat() for loan in loans)
        agent.run_once(ctx, url=hub.url)
        head = events.head(ctx.origin)[0]
        assert verify(ctx) == []
    hub_holds_exactly(hub_dir, ctx.origin, head)



def test_branch_clock_decades_ahead(town):
    hub_dir, branch, hub = town
    wrong = int(datetime(2099, 12, 31, tzinfo=timezone.utc).timestamp() * 1000)
    with opened(branch) as ctx:
        cards, codes = seed(ctx, n_items=4, n_patrons=2)
        ctx.clock = HLC(ctx.clock.last, wall=lambda: wrong)  # a clock chip gone wrong
        loans = [circulation.checkout(ctx, cards[0], c) for c in codes[:3]]
        assert all(loan["due_date"] < "2099" for loan in loans)
        agent.run_once(ctx, url=hub.url)  # not refused as from the future
        head = events.head(ctx.origin)[0]
        assert verify(ctx) == []
    hub_holds_exactly(hub_dir, ctx.origin, head)

def _wait(cond, timeout=60):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)
