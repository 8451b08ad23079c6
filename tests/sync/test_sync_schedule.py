"""The scheduled agent backs off after failures and records why."""

import os
import threading
import time
from datetime import datetime, timedelta

import pytest

from appliance.core.clock import LIBRARY_TZ
from appliance.core.context import load_settings, save_settings
from provisioning import window
from sync import agent, fetch, protocol
from sync.models import get_state
from tests.sync.syncsupport import init, opened


def test_backoff_doubles_and_caps():
    delays = [agent.backoff_delay(n, 60, 3600) for n in range(0, 10)]
    assert delays[0] == 60
    assert 0.8 * 120 <= delays[1] <= 120 and 0.8 * 480 <= delays[3] <= 480
    assert all(d <= 3600 for d in delays) and delays[9] >= 0.8 * 3600


def test_run_forever_records_failure_and_keeps_going(tmp_path):
    branch = init(tmp_path / "b", "PY-DH01")  # not enrolled: every run fails
    stop = threading.Event()
    calls = []

    def open_ctx():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk not mounted yet")  # the agent survives this too
        from appliance.core.context import Context
        return Context.open(branch)

    stop.set()  # one tick, then return
    agent.run_forever(open_ctx, interval=1, stop=stop)
    assert len(calls) == 1
    stop.clear()
    t = threading.Thread(target=agent.run_forever, args=(open_ctx,),
                         kwargs={"interval": 0.1, "cap": 0.2, "stop": stop})
    t.start()
    try:
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(10)
    with opened(branch):
        assert get_state("failures") >= 1
        assert get_state("last_error").startswith("not_enrolled")


def _window_from(now, start_h, end_h):
    return f"{now + timedelta(hours=start_h):%H:%M}-{now + timedelta(hours=end_h):%H:%M}"


def test_every_run_hands_back_updates_kept_for_the_window_even_one_that_fails(tmp_path,
                                                                             monkeypatch):
    """The sync timer is the device's clockwork: each run, hub or no hub, gives the update
    a bundle kept for the update window once the window is open (or the Pi just started)."""
    branch = init(tmp_path / "b", "PY-DH01")  # not enrolled: every run fails at once
    waiting, incoming = branch / window.WAITING, branch / fetch.INCOMING
    waiting.mkdir(parents=True)
    incoming.mkdir(parents=True)
    (waiting / "thuvien-0.4.0.tvu").write_bytes(b"a bundle kept for the night")
    monkeypatch.setattr(window, "uptime_s", lambda: 6 * 3600.0)  # the boot clock: the edge
    now = datetime.now(LIBRARY_TZ)

    def run(span):
        settings = load_settings(branch)
        settings["update_window"] = span
        save_settings(branch, settings)
        with opened(branch) as ctx, pytest.raises(protocol.SyncError, match="not_enrolled"):
            agent.run_once(ctx)
        return sorted(p.name for p in incoming.glob("*.tvu"))

    assert run(_window_from(now, 2, 3)) == []  # the window is hours away: it waits on
    monkeypatch.setattr(window, "uptime_s", lambda: 120.0)  # switched on a minute ago
    assert run(_window_from(now, 2, 3)) == ["thuvien-0.4.0.tvu"]
    os.replace(incoming / "thuvien-0.4.0.tvu", waiting / "thuvien-0.4.0.tvu")
    monkeypatch.setattr(window, "uptime_s", lambda: 6 * 3600.0)
    assert run(_window_from(now, -1, 1)) == ["thuvien-0.4.0.tvu"]  # the window is open
    assert not list(waiting.iterdir())


def test_a_hand_back_that_fails_is_said_and_never_fails_the_run(tmp_path, caplog):
    (tmp_path / window.WAITING).mkdir(parents=True)
    (tmp_path / window.WAITING / "thuvien-0.4.0.tvu").write_bytes(b"kept for the night")
    (tmp_path / fetch.INCOMING).write_text("a file where the folder should be")
    assert fetch.release_waiting(tmp_path, lambda: True) == []
    assert "could not hand the updates kept for the window back" in caplog.text
    assert (tmp_path / window.WAITING / "thuvien-0.4.0.tvu").exists()
