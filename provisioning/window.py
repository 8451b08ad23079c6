"""When an update that migrates the library's database may run.

Such an update stops the desk, the kiosk and the OPAC for the copy of the database and
the migration: seconds for most steps, minutes for one that rebuilds a year of loans.
One that sync brings is therefore kept until the library is closed: inside the
device's update window (the town sets it with a config bundle; by default the night,
21:00 to 06:00, the library's time) or in the first minutes after the Pi starts, when
nobody is served yet. A Pi switched off every evening takes it when it is switched on
the next morning; one left on takes it in the night. An update with no new schema is
a restart of a few seconds and is not kept. Staff who must have it now say so
(`thuvien update apply --pending --now`)."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from datetime import time as clock_time
from pathlib import Path

from appliance.core.clock import LIBRARY_TZ
from appliance.core.errors import N_, Invalid

log = logging.getLogger(__name__)

DEFAULT = "21:00-06:00"
WAITING = "updates/waiting"  # in the data folder: bundles kept for the window
# Minutes after the Pi starts in which a kept update runs whatever the hour: a Pi that is
# switched off at night has none of the night window, and nobody is served this early.
BOOT_GRACE_S = 15 * 60
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Window:
    start: clock_time
    end: clock_time

    def __str__(self):
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def holds(self, when: datetime) -> bool:
        """Whether `when` (any zone) falls in the window, read in the library's time."""
        local = when.astimezone(LIBRARY_TZ).time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # across midnight


def parse(text) -> Window:
    """A window as "HH:MM-HH:MM" (the library's time); Invalid when it is not one."""
    match = _SPAN.match(text.strip()) if isinstance(text, str) else None
    parts = [int(x) for x in match.groups()] if match else []
    if not parts or parts[:2] == parts[2:]:
        raise Invalid("update_window_invalid", N_("An update window is two different times "
                      "as HH:MM-HH:MM, such as 21:00-06:00, not %(text)r"), text=text)
    return Window(clock_time(*parts[:2]), clock_time(*parts[2:]))


def of(settings: dict) -> Window:
    """The device's window: its settings' `update_window`, else the night. A config bundle
    with a wrong one is refused; one mistyped by hand in settings.json is said in the
    journal and the night stands in, so that neither sync (which brings the fix) nor the
    update stops on it."""
    try:
        return parse(settings.get("update_window") or DEFAULT)
    except Invalid as exc:
        log.warning("settings.json: %s; the update window is %s", exc, DEFAULT)
        return parse(DEFAULT)


def uptime_s() -> float:
    """Seconds since the Pi started (Linux's boot clock, which counts suspend too)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def may_migrate(window: Window, now: datetime | None = None, uptime: float | None = None):
    """Whether an update with a new schema may run now: in the window, or just after the
    Pi started. A Pi's clock may read 1970 at start (no battery): that is the start."""
    now = now or datetime.now(timezone.utc)
    uptime = uptime_s() if uptime is None else uptime
    return uptime < BOOT_GRACE_S or window.holds(now)


def asker(settings: dict):
    """The question the update and sync ask, whenever they ask it: may a new schema be
    migrated now, by this device's window (`may_migrate`)?"""
    span = of(settings)
    return lambda: may_migrate(span)


def waiting_beside(incoming) -> Path:
    """The folder of bundles kept for the window, beside the `incoming` one."""
    return Path(incoming).with_name(Path(WAITING).name)
