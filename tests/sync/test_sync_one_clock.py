"""One clock across processes: `thuvien sync now` stores, in its own process, an edit
stamped later than anything the running web server has seen; the desk's next event,
stamped by that server, still sorts after it."""

import subprocess
import sys
from pathlib import Path

import requests

from appliance.core import catalogue, events, users
from appliance.core.clock import HLC
from appliance.core.models import Event
from sync import agent, enrol
from tests.conftest import PASSWORD, login_token
from tests.sync.syncsupport import HubProcess, init, make_town, opened, seed

ROOT = Path(__file__).resolve().parents[2]
TWO_HOURS_MS = 2 * 3600 * 1000


def test_the_desk_stamps_after_what_sync_now_stored_in_another_process(tmp_path, hub_db):
    hub_dir, branches, tokens = make_town(tmp_path, ("PY-DH01",), hub_db=hub_db)
    desk_dir = branches["PY-DH01"]
    other_dir = init(tmp_path / "second-pi", "PY-DH01")  # another Pi of the same library
    with HubProcess(hub_dir) as hub:
        with opened(hub_dir) as h:
            second = enrol.create_token(h, "PY-DH01")
        with opened(desk_dir) as ctx:
            enrol.enrol_with(ctx, hub.url, tokens["PY-DH01"])
            cards, codes = seed(ctx, n_items=3, n_patrons=1)
            users.create(ctx, "thuthu", PASSWORD, "librarian")
            agent.run_once(ctx, url=hub.url)
        with HubProcess(desk_dir) as desk:  # the web process: reads its clock now
            login = login_token(desk.url)
            with opened(other_dir) as other:
                enrol.enrol_with(other, hub.url, second)
                agent.run_once(other, url=hub.url)
                ahead = other.clock.wall_ms() + TWO_HOURS_MS
                other.clock = HLC(other.clock.last, wall=lambda: ahead)  # its clock runs ahead
                item = catalogue.get_item(other, codes[0])
                catalogue.save_item(other, {"id": item.id, "location": "Kệ thiếu nhi"})
                edit = events.head(other.origin)[0]
                agent.run_once(other, url=hub.url)
            now = subprocess.run([sys.executable, "-m", "appliance.cli", "sync", "now",
                                  "--data", str(desk_dir)], cwd=ROOT, capture_output=True,
                                 text=True, timeout=120)
            assert now.returncode == 0, now.stderr
            r = requests.post(f"{desk.url}/api/v1/checkouts", headers=login, timeout=10,
                              json={"patron": cards[0], "item": codes[0]})
            assert r.status_code == 201, r.text
    with opened(desk_dir) as ctx:
        received = Event.get((Event.origin == other.origin) & (Event.seq == edit))
        lent = Event.select().where(Event.kind == "loan.out").get()
        assert received.hlc >= (ahead << 16)
        assert lent.hlc > received.hlc, "the loan must sort after the edit it followed"
        assert catalogue.get_item(ctx, codes[0]).location == "Kệ thiếu nhi"
