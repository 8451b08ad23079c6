"""Report periods: a month, a quarter, the plan's half-years, a year, or any range of
days, and the same period a year earlier (what the town's reports set beside it)."""

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from ..errors import N_, Invalid

KINDS = ("month", "quarter", "half", "year", "range")


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # the last day, included
    kind: str = "range"
    name: str = ""  # 2026-03, 2026-Q1, 2026-H1, 2026, or start..end

    @property
    def after(self):
        """The first day after the period: times are compared as text, `at < after`."""
        return self.end + timedelta(days=1)

    def year_earlier(self):
        """The same days a year before (29 February becomes the 28th)."""
        start, end = _year_back(self.start), _year_back(self.end)
        if self.kind != "range":
            return parse(_shift_name(self.name))
        return Period(start, end, "range", f"{start.isoformat()}..{end.isoformat()}")

    def as_dict(self):
        return {"from": self.start.isoformat(), "to": self.end.isoformat(),
                "kind": self.kind, "name": self.name}


def _year_back(day):
    if day.month == 2 and day.day == 29:
        return date(day.year - 1, 2, 28)
    return day.replace(year=day.year - 1)


def _shift_name(name):
    year, rest = name[:4], name[4:]
    return f"{int(year) - 1}{rest}"


def month(year, number):
    last = calendar.monthrange(year, number)[1]
    return Period(date(year, number, 1), date(year, number, last), "month",
                  f"{year}-{number:02d}")


def quarter(year, number):
    first = 3 * (number - 1) + 1
    return Period(date(year, first, 1), month(year, first + 2).end, "quarter",
                  f"{year}-Q{number}")


def half(year, number):
    """H1 is January to June, H2 July to December: the plan's six-monthly reports."""
    first = 1 if number == 1 else 7
    return Period(date(year, first, 1), month(year, first + 5).end, "half", f"{year}-H{number}")


def year(number):
    return Period(date(number, 1, 1), date(number, 12, 31), "year", str(number))


def between(start, end):
    start, end = _day(start), _day(end)
    if end < start:
        raise Invalid("bad_period", N_("The period ends (%(end)s) before it starts "
                                       "(%(start)s)."), start=start.isoformat(),
                      end=end.isoformat())
    return Period(start, end, "range", f"{start.isoformat()}..{end.isoformat()}")


def _day(value):
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid("bad_date", N_("%(value)s is not a date (YYYY-MM-DD)."), value=value)


_NAMES = [
    (re.compile(r"^(\d{4})-(\d{2})$"), lambda m: month(int(m[1]), int(m[2])), 12),
    (re.compile(r"^(\d{4})-Q([1-4])$", re.I), lambda m: quarter(int(m[1]), int(m[2])), 4),
    (re.compile(r"^(\d{4})-H([12])$", re.I), lambda m: half(int(m[1]), int(m[2])), 2),
    (re.compile(r"^(\d{4})$"), lambda m: year(int(m[1])), None),
]


def parse(name):
    """A period by its name: 2026-03, 2026-Q1, 2026-H1, 2026, or 2026-01-05..2026-02-10."""
    text = (name or "").strip()
    if ".." in text:
        start, end = text.split("..", 1)
        return between(start, end)
    for pattern, make, top in _NAMES:
        m = pattern.match(text)
        if m and (top is None or 1 <= int(m[2]) <= top):
            return make(m)
    raise Invalid("bad_period", N_("%(value)s is not a period (2026-03, 2026-Q1, 2026-H1, "
                                   "2026 or 2026-01-01..2026-01-31)."), value=text)


def change(now, before):
    """Percent change from the year before, one decimal; None when there is nothing to
    compare (no figure, a figure withheld, or nothing the year before)."""
    if not isinstance(now, int) or not isinstance(before, int) or before == 0:
        return None
    return round(100.0 * (now - before) / before, 1)


# The semi-annual report is due before 5 June (for H1) and 5 December (for H2): the
# administration counts the first five months and the figures of the rest follow.
DUE = {1: (6, 5), 2: (12, 5)}
WARN_DAYS = 20


def due_date(period_name):
    """The day the semi-annual report for `2026-H1` / `2026-H2` is due."""
    p = parse(period_name)
    if p.kind != "half":
        raise Invalid("bad_period", N_("%(value)s is not a half-year (2026-H1 or 2026-H2)."),
                      value=period_name)
    number = 1 if p.start.month == 1 else 2
    mon, day = DUE[number]
    return date(p.start.year, mon, day)


def next_due(today):
    """(half-year name, due date) of the next report due on or after `today`."""
    for y in (today.year, today.year + 1):
        for number in (1, 2):
            due = date(y, *DUE[number])
            if due >= today:
                return f"{y}-H{number}", due
    raise AssertionError("unreachable")


def due_warning(today):
    """(half-year, due date, days left) when a report is due within WARN_DAYS days."""
    name, due = next_due(today)
    left = (due - today).days
    return (name, due, left) if left <= WARN_DAYS else None
