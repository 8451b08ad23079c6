"""A branch whose clock is wrong learns the hub's time from its signed answers.

A clock three days ahead stamps events the hub refuses as from the future: the branch
asks the hub for its time, stamps those events again (still in chain order, after
everything it had seen), and they ship in the same run; from then on it stamps the
hub's time, and staff are told, in Vietnamese, to set the clock. A clock in 1970 is
set right the same way. Against a real hub process on loopback (SQLite and
PostgreSQL hubs)."""

import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from appliance.core import circulation, clock, events, models, patrons, users
from appliance.core.clock import HLC
from appliance.core.context import Context
from appliance.core.models import Conflict, Event, Loan
from appliance.core.verify import verify
from appliance.web import create_app
from sync import agent
from sync.models import SyncRefusal
from tests.conftest import free_port
from tests.factories import loans_fall_due_today
from tests.sync.syncsupport import (
    HubProcess,
    enrol_all,
    hub_holds_exactly,
    make_town,
    opened,
    seed,
)

LIB = "PY-DH01"
DAY_MS = 24 * 3600 * 1000


@pytest.fixture
def town(tmp_path, hub_db):
    hub_dir, branches, tokens = make_town(tmp_path, (LIB,), hub_db=hub_db)
    hub = HubProcess(hub_dir, port=free_port()).start()
    enrol_all(hub.url, branches, tokens)
    yield hub_dir, branches[LIB], hub
    hub.stop()


def use(site):
    """The database the models talk to: this site's (they follow the last opened)."""
    models.database_proxy.initialize(site.db)


def real_ms():
    return int(time.time() * 1000)


def own_stamps(origin):
    return [e.hlc for e in Event.select(Event.hlc).where(Event.origin == origin)
            .order_by(Event.seq)]


def status_words(branch):
    """`thuvien sync status` in another process, in Vietnamese (the default)."""
    env = {k: v for k, v in os.environ.items() if k != "THUVIEN_LANG"}
    r = subprocess.run([sys.executable, "-m", "appliance.cli", "sync", "status", "--data",
                        str(branch)], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    return r.stderr, r.stdout


def desk_home(ctx):
    users.create(ctx, "thuthu", "mat-khau-thu-vien", "librarian")
    client = create_app(ctx, testing=True).test_client()
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    client.post("/login", data={"username": "thuthu", "password": "mat-khau-thu-vien",
                                **({"csrf_token": token.group(1)} if token else {})})
    return client.get("/desk/").text


def test_a_clock_three_days_ahead_is_set_right_by_the_hub(town):
    hub_dir, branch, hub = town
    ahead = 3 * DAY_MS
    with opened(branch) as ctx:
        cards, codes = seed(ctx, n_items=4, n_patrons=2)
        synced_before = events.head(ctx.origin)[0]
        agent.run_once(ctx, url=hub.url)
        ctx.clock = HLC(ctx.clock.last, wall=lambda: real_ms() + ahead)  # the chip runs ahead
        stamped_at = real_ms()
        loans = [circulation.checkout(ctx, cards[0], c) for c in codes[:2]]
        loans_fall_due_today(ctx, codes[0])  # so the renewal moves the date
        circulation.renew(ctx, codes[0])
        circulation.checkin(ctx, codes[1])
        card = patrons.find(ctx, cards[1])
        for phone in ("0905000001", "0905000002"):  # the second edit saw the first
            patrons.save(ctx, {"id": card.id, "phone": phone})
        wrong = own_stamps(ctx.origin)[synced_before:]
        assert clock.unpack(wrong[-1])[0] > stamped_at + 2 * DAY_MS  # in the future
        # a second process of the device (the desk's server), open all along
        desk = Context.open(branch)
        desk.clock = HLC(desk.clock.last, wall=lambda: real_ms() + ahead)
        use(ctx)

        result = agent.run_once(ctx, url=hub.url)  # one run: refused, asked, sent

        assert result["pushed"] == len(wrong)
        head = events.head(ctx.origin)[0]
        stamps = own_stamps(ctx.origin)
        assert stamps == sorted(set(stamps)), "the chain's order is kept"
        assert max(clock.unpack(s)[0] for s in stamps) <= real_ms()
        assert stamps[:synced_before] == own_stamps(ctx.origin)[:synced_before]
        assert abs(ctx.clock.offset_ms + ahead) < 60_000
        assert verify(ctx) == []
        assert Loan.get_by_id(loans[0]["loan_id"]).renewals == 1
        assert patrons.find(ctx, cards[1]).phone == "0905000002"
        assert not Conflict.select().exists(), "the edits' stamps followed them"
        circulation.checkout(ctx, cards[1], codes[2])  # the town's time now
        made = Event.select().where(Event.origin == ctx.origin).order_by(
            Event.seq.desc()).first()
        assert abs(clock.unpack(made.hlc)[0] - real_ms()) < 60_000
        assert ctx.clock.today() == datetime.now(clock.LIBRARY_TZ).date()
        # the other process takes the offset and the lower stamps at its next write
        use(desk)
        circulation.checkin(desk, codes[2])
        mine = Event.select().where(Event.origin == ctx.origin).order_by(
            Event.seq.desc()).first()
        assert abs(clock.unpack(mine.hlc)[0] - real_ms()) < 60_000 and mine.hlc > made.hlc
        desk.close()
        use(ctx)
        agent.run_once(ctx, url=hub.url)
        head = events.head(ctx.origin)[0]
        assert verify(ctx) == []
    hub_holds_exactly(hub_dir, ctx.origin, head)
    with opened(hub_dir):
        assert SyncRefusal.select().where(SyncRefusal.code == "future").count() == 1
    said, printed = status_words(branch)
    assert "Đồng hồ của máy này chạy nhanh hơn đồng hồ của máy chủ thị xã khoảng 3 ngày" \
        in said
    assert '"offset_s": -259' in printed and "chạy nhanh hơn" in printed
    with opened(branch) as ctx:
        home = desk_home(ctx)
        assert re.search(r'id="sync-clock"[^>]*>Đồng hồ của máy này chạy nhanh hơn[^<]*'
                         r'khoảng 3 ngày 0 giờ', home)


def test_a_clock_in_1970_is_set_right_by_the_hub(town):
    hub_dir, branch, hub = town
    boot = int(datetime(1970, 1, 1, 0, 5, tzinfo=timezone.utc).timestamp() * 1000)
    with opened(branch) as ctx:
        cards, codes = seed(ctx, n_items=3, n_patrons=1)
        agent.run_once(ctx, url=hub.url)
        started = time.monotonic()
        ctx.clock = HLC(ctx.clock.last, wall=lambda: boot + int(
            (time.monotonic() - started) * 1000))  # a Pi with no battery clock
        circulation.checkout(ctx, cards[0], codes[0])
        agent.run_once(ctx, url=hub.url)
        assert ctx.clock.offset_ms > 50 * 365 * DAY_MS
        circulation.checkout(ctx, cards[0], codes[1])
        made = Event.select().where(Event.origin == ctx.origin).order_by(
            Event.seq.desc()).first()
        assert abs(clock.unpack(made.hlc)[0] - real_ms()) < 60_000
        assert ctx.clock.today() == datetime.now(clock.LIBRARY_TZ).date()
        agent.run_once(ctx, url=hub.url)
        head = events.head(ctx.origin)[0]
        assert verify(ctx) == []
    hub_holds_exactly(hub_dir, ctx.origin, head)
    said, _ = status_words(branch)
    assert "Đồng hồ của máy này chạy chậm hơn đồng hồ của máy chủ thị xã khoảng" in said
