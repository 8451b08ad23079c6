"""Time on a Pi with no battery clock.

Order comes from a hybrid logical clock (HLC): 48 bits of Unix milliseconds and
a 16-bit counter in one integer, so it sorts and travels as a plain number. Wall
time is only metadata; the highest time ever seen is kept, and "today" never goes
back behind it, so a Pi that boots in 1970 cannot make a due date in the past. A wall
clock far ahead of the highest time seen (a clock chip gone wrong, a mistyped year) is
not taken either: it would stamp events the hub refuses as from the future, make every
loan look years overdue, and stay in the log after the clock is set right.

A branch also learns from each signed answer of the hub how far its clock is off
(`clockfix`): that offset is added to the wall clock's reading here, so a Pi whose
clock runs days ahead, or boots in 1970, stamps the town's time until it is set right."""

import threading
import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

LIBRARY_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
COUNTER_BITS = 16
MAX_DRIFT_MS = 5 * 60 * 1000  # a clock this far behind the highest time seen warns staff
# A wall clock this far past the highest time seen is wrong, not a Pi back from a long
# closure (a school library's summer is three months); the highest time seen stands in
# for it until sync brings the town's time.
MAX_LEAP_MS = 366 * 24 * 3600 * 1000
MAX_MS = (1 << 47) - 1  # the latest time an HLC holds in a signed 64-bit column (year 6429)


def local_time(ms):
    """The library's local time of Unix milliseconds, to the second, as ISO text (the
    form of the times events carry)."""
    return datetime.fromtimestamp(ms // 1000, timezone.utc).astimezone(LIBRARY_TZ).isoformat(
        timespec="seconds")


def pack(ms, counter):
    return (ms << COUNTER_BITS) | counter


def unpack(hlc):
    return hlc >> COUNTER_BITS, hlc & ((1 << COUNTER_BITS) - 1)


class HLC:
    def __init__(self, last=0, wall=None, offset_ms=0):
        self._last = last
        self._wall = wall or (lambda: int(time.time() * 1000))
        self.offset_ms = offset_ms  # the hub's clock minus this one's, as last learned
        self.learned = None  # the stored word it came from (events.clock_seen)
        self._lock = threading.Lock()
        # (Unix second, its local datetime, that as ISO text, its date): asked by every loan
        self._local: tuple = (None, None, None, None)

    @property
    def last(self):
        return self._last

    def raw_ms(self):
        """The wall clock as the device reads it, uncorrected."""
        return self._wall()

    def _read(self):
        return self._wall() + self.offset_ms

    def rebase(self, last, offset_ms):
        """Take a new offset, and the highest timestamp the log holds as the last one,
        even when lower than this clock's: the only step back, made after `clockfix`
        stamped again the events a wrong clock had put in the future."""
        with self._lock:
            self.offset_ms = offset_ms
            self._last = last

    def wall_ms(self):
        """The wall clock for what is not ordering (a batch's creation time, a bundle's
        validity): the highest time seen stands in for one too far ahead to be right."""
        last_ms = unpack(self._last)[0]
        wall = self._taken_wall(last_ms)
        return max(0, last_ms if wall is None else wall)

    def _taken_wall(self, last_ms):
        """The wall clock's reading, or None when it is too far ahead to be right (past
        MAX_LEAP_MS beyond the highest time seen, or past what an HLC can hold)."""
        wall = self._read()
        limit = MAX_MS if last_ms <= 0 else min(MAX_MS, last_ms + MAX_LEAP_MS)
        return wall if wall <= limit else None

    def ahead(self):
        """Whether the wall clock reads a time too far ahead to be taken."""
        return self._taken_wall(unpack(self._last)[0]) is None

    def now(self):
        """A new timestamp, greater than every one made or seen before."""
        with self._lock:
            last_ms, counter = unpack(self._last)
            wall = self._taken_wall(last_ms)
            if wall is not None and wall > last_ms:
                self._last = pack(wall, 0)
            elif counter + 1 < 1 << COUNTER_BITS:
                self._last = pack(last_ms, counter + 1)
            else:  # counter spent while the wall clock stands still: borrow a millisecond
                self._last = pack(last_ms + 1, 0)
            return self._last

    def observe(self, remote):
        """Take in a timestamp from another device so later events sort after it."""
        with self._lock:
            if remote > self._last:
                self._last = remote

    def highest_ms(self):
        last_ms = unpack(self._last)[0]
        wall = self._taken_wall(last_ms)
        return max(last_ms, 0 if wall is None else wall)

    def behind_ms(self):
        """How far the wall clock runs behind the highest time seen (0 if it does not)."""
        return max(0, unpack(self._last)[0] - self._read())

    def clock_ok(self):
        return self.behind_ms() <= MAX_DRIFT_MS and not self.ahead()

    def effective_now(self):
        """The library's local time to the second, never earlier than the highest seen."""
        return self._this_second()[1]

    def _this_second(self):
        """(second, local time, as ISO text, its date) of `highest_ms`: a loan asks for
        them half a dozen times, and they change once a second."""
        second = self.highest_ms() // 1000
        held = self._local
        if held[0] != second:
            local = datetime.fromtimestamp(second, timezone.utc).astimezone(LIBRARY_TZ)
            held = self._local = (second, local, local.isoformat(timespec="seconds"),
                                  local.date())
        return held

    def today(self):
        return self._this_second()[3]

    def iso_now(self):
        return self._this_second()[2]


def parse_date(text):
    return datetime.strptime(text, "%Y-%m-%d").date()


def add_days(day, days):
    return day + timedelta(days=days)


def written(value, zone=LIBRARY_TZ):
    """A date or time as Vietnamese readers write it: dd/mm/yyyy, and a time (UTC in the
    event log, the device's offset elsewhere) as HH:MM on `zone`'s wall clock. Text that
    is no ISO date is given back as it is."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(zone)
        return value.strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")
