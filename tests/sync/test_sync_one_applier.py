"""One applier for a hub answer, over HTTP and on a USB stick: cursors only move forward.

A town with two branches: A pulls B's town-wide records (patron cards) from the hub.
"""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from appliance.core import events, patrons
from appliance.core.context import load_settings
from appliance.core.models import Event, Patron
from appliance.core.verify import verify
from sync import agent, answer, usb
from sync.models import Device, get_state
from tests.sync.proxy import FaultProxy
from tests.sync.syncsupport import opened, running_town, seed, set_settings

A, B = "PY-DH01", "PY-DH02"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def town(tmp_path):
    with running_town(tmp_path, (A, B), admin=None) as town:
        yield town.hub_dir, town.branches, town.hub


def cards_at_b(branches, hub, first, n):
    """B makes ``n`` new patron cards and syncs them to the hub."""
    with opened(branches[B]) as ctx:
        for i in range(first, first + n):
            patrons.save(ctx, {"card": f"DH02C{i:03d}", "name": f"Bạn đọc {i}",
                               "category": "adult"})
        agent.run_once(ctx, url=hub.url)


def state(ctx):
    return {"acked": get_state("acked_seq", 0), "pull_after": get_state("pull_after", 0),
            "events": Event.select().count()}


def test_an_old_stick_after_a_newer_http_sync_moves_nothing_back(town, tmp_path):
    hub_dir, branches, hub = town
    with opened(branches[A]) as ctx:
        seed(ctx, n_items=2, n_patrons=1)
        agent.run_once(ctx, url=hub.url)
        device = ctx.origin
    cards_at_b(branches, hub, 0, 3)
    stick = tmp_path / "old.tvsync"
    with opened(hub_dir) as h:  # written now, carried to the branch days later
        assert usb.export(h, stick, device)["events"] >= 3
    with opened(branches[A]) as ctx:
        seed(ctx, n_items=2, n_patrons=1, prefix="DH1B")
    cards_at_b(branches, hub, 3, 3)
    with opened(branches[A]) as ctx:
        agent.run_once(ctx, url=hub.url)
        before = state(ctx)
        got = usb.import_(ctx, stick)
        assert got["refused"] == [] and got["applied"] == 0 and got["already"] == 0
        assert state(ctx) == before  # no cursor back, no event twice
        again = agent.run_once(ctx, url=hub.url)
        assert again["pushed"] == 0 and again["pulled"] == 0
        assert Patron.select().where(Patron.card.startswith("DH02C")).count() == 6
        assert verify(ctx) == []


def test_a_stick_that_does_not_join_on_leaves_the_pull_cursor(town, tmp_path):
    """The hub believes A has pulled further than it has (A came back from a backup):
    the stick's page starts beyond A's pull cursor. Its events are applied, the cursor
    stays, and the next pull brings the events in between instead of skipping them."""
    hub_dir, branches, hub = town
    with opened(branches[A]) as ctx:
        agent.run_once(ctx, url=hub.url)
        device = ctx.origin
        pull_after = get_state("pull_after", 0)
    cards_at_b(branches, hub, 0, 3)
    cards_at_b(branches, hub, 3, 3)
    stick = tmp_path / "ahead.tvsync"
    with opened(hub_dir) as h:
        third = (Event.select(Event.pos).where(Event.kind == "patron.saved")
                 .order_by(Event.pos.desc()).limit(3))[2].pos
        Device.update(pull_after=third - 1).where(Device.id == device).execute()
        usb.export(h, stick, device)
    with opened(branches[A]) as ctx:
        got = usb.import_(ctx, stick)
        assert got["refused"] == [] and got["applied"] == 3
        assert get_state("pull_after", 0) == pull_after
        held = {p.card for p in Patron.select().where(Patron.card.startswith("DH02C"))}
        assert held == {"DH02C003", "DH02C004", "DH02C005"}
        agent.run_once(ctx, url=hub.url)
        held = {p.card for p in Patron.select().where(Patron.card.startswith("DH02C"))}
        assert held == {f"DH02C{i:03d}" for i in range(6)}
        assert verify(ctx) == []


def test_an_http_answer_older_than_a_stick_moves_no_cursor_back(town, tmp_path, monkeypatch):
    """A stick imported while an HTTP exchange is on the wire: the answer that lands
    after it is older, and the run goes on from the stick's cursor, pulling nothing twice."""
    hub_dir, branches, hub = town
    with opened(branches[A]) as ctx:
        agent.run_once(ctx, url=hub.url)
        device = ctx.origin
    cards_at_b(branches, hub, 0, 6)
    stick = tmp_path / "new.tvsync"
    with opened(hub_dir) as h:
        on_stick = usb.export(h, stick, device)["events"]
        end = Event.select(Event.pos).order_by(Event.pos.desc()).first().pos
    monkeypatch.setattr(agent, "PULL_LIMIT", 2)  # the answer on the wire: a page of two
    conf = load_settings(branches[A])["sync"]
    set_settings(branches[A], sync={**conf, "rtt_s": 10})  # this link's round trip: 8 s
    with opened(branches[A]) as ctx, FaultProxy(hub.port, delay=4) as slow:
        done = {}
        run = threading.Thread(target=lambda: done.update(agent.run_once(ctx, url=slow.url)))
        run.start()
        deadline = time.monotonic() + 20
        while slow.stats["up"] == 0:  # the request has reached the hub; the answer is coming
            assert time.monotonic() < deadline
            time.sleep(0.01)
        # staff import the stick meanwhile, with the command, in a process of its own
        imported = subprocess.run([sys.executable, "-m", "appliance.cli", "sync", "import",
                                   "--data", str(branches[A]), str(stick)], cwd=ROOT,
                                  capture_output=True, text=True, timeout=60)
        assert imported.returncode == 0, imported.stderr
        assert json.loads(imported.stdout)["applied"] >= 6 and on_stick >= 6
        assert slow.stats["down"] == 0, "the answer came before the stick was in"
        run.join(30)
        assert done["pulled"] == 2  # the page on the wire, then nothing: no re-pull from it
        assert get_state("pull_after", 0) == end
        assert events.head(ctx.origin)[0] == get_state("acked_seq", 0)
        assert verify(ctx) == []


def test_the_applier_takes_no_cursor_back(town):
    hub_dir, branches, hub = town
    cards_at_b(branches, hub, 0, 2)
    with opened(branches[A]) as ctx:
        seed(ctx, n_items=1, n_patrons=1)
        agent.run_once(ctx, url=hub.url)
        before = state(ctx)
        assert before["acked"] > 1 and before["pull_after"] > 1
        old = {"cursor": before["acked"] - 1, "next": before["pull_after"] - 1}
        assert answer.apply(ctx, old, [], after=0)["acked"] == before["acked"]
        ahead = {"cursor": before["acked"] + 5, "next": before["pull_after"]}  # past our chain
        assert answer.apply(ctx, ahead, [])["acked"] == before["acked"]
        gap = {"cursor": before["acked"], "next": before["pull_after"] + 9}
        assert answer.apply(ctx, gap, [], after=before["pull_after"] + 1)["pull_after"] == \
            before["pull_after"]
        assert state(ctx) == before
        joins = answer.apply(ctx, gap, [], after=before["pull_after"])
        assert joins["pull_after"] == before["pull_after"] + 9
