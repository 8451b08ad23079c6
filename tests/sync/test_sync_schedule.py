"""The scheduled agent backs off after failures and records why."""

import threading
import time

from sync import agent
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
