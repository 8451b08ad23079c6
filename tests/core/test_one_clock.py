"""One clock per database: whatever process stamps an event sorts it after every event
the database holds, even one another process (sync, a USB import) stored after this
one read its clock; and a device clock in 1970 or far in the future breaks nothing."""

import time
from datetime import date, timedelta

import peewee as pw
import pytest

from appliance.core import catalogue, circulation, clockfix, datadir, events
from appliance.core.clock import HLC, MAX_LEAP_MS, pack, unpack
from appliance.core.context import Context
from appliance.core.ids import new_id
from appliance.core.models import Event
from tests.factories import seed
from tests.sync.syncsupport import BACKENDS, hub_database

HOUR_MS = 3600 * 1000


@pytest.fixture(params=BACKENDS)
def library(request, tmp_path):
    with hub_database(request.param) as url:
        ctx = datadir.init(tmp_path / "lib", "PY-DH01", "Thư viện phường", database=url)
        ctx.bibs = seed(ctx)
        yield ctx
        ctx.close()


def other_device_edit(ctx, hlc):
    """A copy edit made at another Pi of this library, as sync brings it in."""
    item = catalogue.get_item(ctx, "1002")
    d = {"id": new_id(), "origin": "py-dh01-other", "seq": 1, "hlc": hlc,
         "wall": "2026-01-01T00:00:00.000+00:00", "library": ctx.library, "kind": "item.saved",
         "body": {"id": item.id, "fields": {"location": "Kệ 3"}},
         "prev_hash": events.GENESIS}
    d["hash"] = events.event_hash(d)
    return d


def test_an_edit_stamped_after_an_ingest_by_another_process_sorts_after_it(library):
    desk = library  # the web process: its clock was read when it started
    syncing = Context(desk.db, desk.library, "sync-process")  # `thuvien sync now`'s own
    ahead = pack(desk.clock.wall_ms() + 2 * HOUR_MS, 0)  # a Pi whose clock runs ahead
    events.ingest(syncing, [other_device_edit(syncing, ahead)], relayed=True)
    catalogue.save_item(desk, {"id": catalogue.get_item(desk, "1002").id, "location": "Kệ 4"})
    mine = Event.select().where(Event.origin == desk.origin).order_by(Event.seq.desc()).first()
    assert mine.hlc > ahead, "the desk's edit must win over the one it had already received"
    assert catalogue.get_item(desk, "1002").location == "Kệ 4"


def test_the_day_follows_what_another_process_stored(library):
    desk = library
    desk.clock = HLC(desk.clock.last, wall=lambda: 0)  # booted in 1970, never told the time
    syncing = Context(desk.db, desk.library, "sync-process")
    later = date.today() + timedelta(days=30)
    ms = int(time.mktime(later.timetuple()) * 1000)
    events.ingest(syncing, [other_device_edit(syncing, pack(ms, 0))], relayed=True)
    loan = circulation.checkout(desk, "P0001", "1001")
    assert loan["due_date"] >= (later + timedelta(days=13)).isoformat()


def far_future_ms():
    return int(time.time() * 1000) + 80 * 365 * 24 * HOUR_MS  # a clock chip gone wrong


def test_a_clock_far_in_the_future_is_not_taken(ctx):
    before = ctx.clock.last
    ctx.clock = HLC(before, wall=far_future_ms)
    assert not ctx.clock.clock_ok() and ctx.clock.ahead()
    loan = circulation.checkout(ctx, "P0001", "1001")
    today = date.today()
    assert today < date.fromisoformat(loan["due_date"]) <= today + timedelta(days=15)
    ev = Event.select().order_by(Event.pos.desc()).first()
    assert ev.hlc > before and unpack(ev.hlc)[0] - unpack(before)[0] < HOUR_MS
    assert circulation.checkin(ctx, "1001")["fee"] == 0  # not eighty years overdue


def test_a_clock_just_past_the_leap_is_not_taken_and_one_within_it_is():
    seen = pack(1_780_000_000_000, 0)
    within = HLC(seen, wall=lambda: 1_780_000_000_000 + MAX_LEAP_MS)
    assert unpack(within.now())[0] == 1_780_000_000_000 + MAX_LEAP_MS and within.clock_ok()
    past = HLC(seen, wall=lambda: 1_780_000_000_000 + MAX_LEAP_MS + 1)
    assert past.now() == seen + 1 and not past.clock_ok()


@pytest.mark.parametrize("wall", [0, -86_400_000, 10**17, 2**62])
def test_no_wall_clock_reading_breaks_stamping_or_the_day(ctx, wall):
    ctx.clock = HLC(ctx.clock.last, wall=lambda: wall)
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkin(ctx, "1001")
    assert ctx.clock.today() >= date(2026, 1, 1)
    assert Event.select().order_by(Event.pos.desc()).first().hlc < 2**63


def test_a_new_device_with_an_impossible_clock_still_works(tmp_path):
    stamps = HLC(0, wall=lambda: 2**62)  # nothing seen yet, a reading no HLC can hold
    assert 0 < stamps.now() < 2**63 and stamps.today().year >= 1970


def highest_clock():
    return Event.select(pw.fn.MAX(Event.hlc)).scalar() or 0


def test_the_logs_highest_clock_holds_after_a_batch_of_older_clocks(library):
    """On SQLite the clock is not indexed: after events made here, a batch stamped
    earlier ends the log, and the clock the log holds is still the highest."""
    circulation.checkout(library, "P0001", "1001")
    top = highest_clock()
    older = other_device_edit(library, pack(unpack(top)[0] - 2 * HOUR_MS, 0))
    events.ingest(Context(library.db, library.library, "sync-process"), [older],
                  relayed=True)
    assert Event.select().order_by(Event.pos.desc()).first().hlc < top
    assert events.log_top() == top == highest_clock()
    fresh = Context(library.db, library.library, library.origin)  # a process starting
    assert fresh.clock.last == top
    circulation.checkin(fresh, "1001")
    assert Event.select().order_by(Event.pos.desc()).first().hlc > top


def test_the_logs_highest_clock_rises_with_a_batch_stamped_later(library):
    ahead = pack(library.clock.wall_ms() + 3 * HOUR_MS, 0)
    events.ingest(Context(library.db, library.library, "sync-process"),
                  [other_device_edit(library, ahead)], relayed=True)
    assert events.log_top() == ahead == highest_clock()


def test_a_clock_set_back_sets_the_logs_highest_clock_back(library):
    """Events a clock in the future stamped, then a batch from elsewhere (the log's
    highest clock is kept, in the future), then the hub's time: the events are stamped
    again and the kept clock follows them down, or every later stamp would stay ahead."""
    ahead_ms = 48 * HOUR_MS
    library.clock = HLC(library.clock.last, wall=lambda: int(time.time() * 1000) + ahead_ms)
    circulation.checkout(library, "P0001", "1001")
    now = pack(int(time.time() * 1000), 0)
    events.ingest(Context(library.db, library.library, "sync-process"),
                  [other_device_edit(library, now)], relayed=True)
    assert unpack(events.log_top())[0] > time.time() * 1000 + ahead_ms - HOUR_MS
    hub_ms = int(time.time() * 1000)
    mine = hub_ms + ahead_ms  # the device's own clock as the answer came
    assert clockfix.learn(library, hub_ms, mine, mine, 0)["restamped"] >= 1
    assert events.log_top() == highest_clock() <= pack(hub_ms + clockfix.SLACK_MS, 0)
