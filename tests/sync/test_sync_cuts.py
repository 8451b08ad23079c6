"""Fail fast, resume always: `thuvien sync now` through a link that cuts and stalls.

A cut connection (FIN or RST) fails at once and is retried within the same run; a
stalled one is given up after the time its bytes need on the slowest expected link,
not a flat two minutes; the run keeps to a deadline it prints.
"""

import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.core.verify import verify
from sync import link
from tests.conftest import free_port
from tests.sync.proxy import FaultProxy
from tests.sync.syncsupport import (
    HubProcess,
    busy_day,
    enrol_all,
    hub_holds_exactly,
    make_town,
    opened,
    set_settings,
)

LIB = "PY-DH01"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def town(tmp_path):
    hub_dir, branches, tokens = make_town(tmp_path, (LIB,))
    hub = HubProcess(hub_dir, port=free_port()).start()
    enrol_all(hub.url, branches, tokens)
    yield hub_dir, branches[LIB], hub
    hub.stop()


def point_at(branch, url):
    """The branch's hub address, as `thuvien sync now` reads it: through the proxy."""
    from appliance.core.context import load_settings

    conf = load_settings(branch)["sync"]
    set_settings(branch, sync={**conf, "hub_url": url})


def sync_now(branch, *extra, lang="vi"):
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "appliance.cli", "sync", "now", "--data",
                           str(branch), *extra], cwd=ROOT, capture_output=True, text=True,
                          timeout=200, env={**_env(), "THUVIEN_LANG": lang})
    return proc, time.monotonic() - t0


def _env():
    import os

    return dict(os.environ)


def test_three_cuts_at_random_offsets_one_run(town):
    hub_dir, branch, hub = town
    rng = random.Random(11)
    # three connections in a row cut mid-transfer, each at its own offset, by RST or FIN
    cuts = {n: (rng.randrange(100, 5000), how) for n, how in enumerate(("rst", "fin", "rst"))}
    with opened(branch) as ctx:
        head = busy_day(ctx, 1200)
        origin = ctx.origin
    with FaultProxy(hub.port, bitrate=64_000, delay=0.25, cut_at=cuts.get) as proxy:
        point_at(branch, proxy.url)
        proc, took = sync_now(branch)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert proxy.stats["cuts"] == 3 and result["retries"] == 3
    assert result["cursor"] == head
    assert took < 20, took  # one run, no two-minute waits
    assert "600 giây" in proc.stderr  # the deadline, said before it starts, in Vietnamese
    hub_holds_exactly(hub_dir, origin, head)
    with opened(branch) as ctx:
        assert verify(ctx) == []


def test_a_stalled_answer_is_given_up_after_the_scaled_time_out(town):
    hub_dir, branch, hub = town
    with opened(branch) as ctx:
        head = busy_day(ctx, 300)
        origin = ctx.origin
    # the first connection goes silent partway through the hub's answer
    with FaultProxy(hub.port, stall_at=lambda n: 9_500 if n == 0 else None) as proxy:
        point_at(branch, proxy.url)
        proc, took = sync_now(branch)
    assert proc.returncode == 0, proc.stderr
    assert proxy.stats["stalls"] == 1 and json.loads(proc.stdout)["retries"] == 1
    # the request (~9 kB) at 32 kbit/s, a round trip and the hub's work: about 10 s
    floor = link.Link().answer_wait_s(8_000)
    assert floor <= took < link.Link().answer_wait_s(12_000) + 8, took
    hub_holds_exactly(hub_dir, origin, head)


def test_a_dead_silent_link_stops_at_the_deadline(town):
    _, branch, hub = town
    with opened(branch) as ctx:
        busy_day(ctx, 100)
    with FaultProxy(hub.port, stall_at=lambda n: 200) as proxy:
        point_at(branch, proxy.url)
        proc, took = sync_now(branch, "--deadline", "12", lang="en")
    assert proc.returncode == 1
    assert "12 s" in proc.stderr and "deadline: Sync stopped at its deadline" in proc.stderr
    assert 12 <= took < 12 + 6, took
    assert proxy.stats["stalls"] >= 1


def test_a_hub_that_is_down_fails_after_a_few_quick_tries(tmp_path):
    hub_dir, branches, tokens = make_town(tmp_path, (LIB,))
    with HubProcess(hub_dir) as hub:
        enrol_all(hub.url, branches, tokens)
    # the hub has stopped: every connection is refused at once
    proc, took = sync_now(branches[LIB])
    assert proc.returncode == 1
    assert "unreachable" in proc.stderr and "từ chối kết nối" in proc.stderr, proc.stderr
    assert took < 25, took


def test_a_run_stopped_at_its_deadline_keeps_what_it_did(town):
    """Rounds go through, then the link goes silent: the run stops at its deadline, the
    cursors stand where the last answer put them, and the stop is no failure to back off
    from; the next run goes on from there."""
    from sync import agent, protocol
    from sync.models import get_state

    hub_dir, branch, hub = town
    with opened(branch) as ctx:
        head = busy_day(ctx, 400)
        origin = ctx.origin
        # the first connection carries a few rounds of 100 events, then goes silent
        with FaultProxy(hub.port, stall_at=lambda n: 8_000 if n == 0 else 200) as proxy:
            with pytest.raises(protocol.SyncError) as stopped:
                agent.run_once(ctx, url=proxy.url, batch=100, deadline=10)
        assert stopped.value.code == "deadline" and stopped.value.progress
        acked = get_state("acked_seq", 0)
        assert 0 < acked < head
        assert get_state("failures") == 0 and get_state("last_error").startswith("deadline")
        assert agent.run_once(ctx, url=hub.url)["pushed"] == head - acked
    hub_holds_exactly(hub_dir, origin, head)
