"""A school library's year, set with its loan rules: the day pupils' cards run to (the
end of the school year, 31 May in Vietnam unless the library says otherwise, e.g. 31
August to lend over the summer) and the age under which a pupil on a class list is a
child, registered with a guardian and the guardian's consent (16: the Law on Children)."""

import re
from datetime import date, timedelta

from .. import authority, events, records
from ..errors import N_, Invalid
from ..models import Library

YEAR_END = "05-31"
CHILD_AGE = 16


def of(library):
    """(school year end as MM-DD, child age) of a library."""
    lib = Library.get_or_none(Library.code == library)
    end = (lib.school_year_end if lib else None) or YEAR_END
    age = lib.child_age if lib is not None and lib.child_age is not None else CHILD_AGE
    return end, age


def year_end_after(month_day, day, gap_days=0):
    """The first school year end (MM-DD) on or after `day` + `gap_days`: for a pupil
    registered today, the end of this school year; for a new school year begun today
    (gap of four months), the end of the year that starts."""
    start = day + timedelta(days=gap_days)
    month, dom = int(month_day[:2]), int(month_day[3:])
    for year in (start.year, start.year + 1):
        try:
            end = date(year, month, dom)
        except ValueError:  # 29 February
            end = date(year, month, 28)
        if end >= start:
            return end
    raise AssertionError("unreachable")


def age_on(birth, day):
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def category(birth, day, child_age):
    """child under `child_age` on `day`, pupil from then on."""
    return "child" if age_on(birth, day) < child_age else "pupil"


def parse_year_end(text):
    """MM-DD from "31/05", "31-05" or "05-31" (ISO order when the first part is a month
    and the second cannot be)."""
    m = re.fullmatch(r"\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*", text or "")
    if m:
        day, month = int(m.group(1)), int(m.group(2))
        try:
            date(2024, month, day)  # a leap year: 29/02 is a day
            return f"{month:02d}-{day:02d}"
        except ValueError:
            pass
    raise Invalid("bad_year_end", N_("The end of the school year is a day and a month, "
                                     "such as 31/05."))


@events.command
def save(ctx, library, year_end, child_age):
    """Set the library's school year end and child age (a library.saved event)."""
    authority.require_own(ctx, library, "settings")
    end = parse_year_end(year_end)
    try:
        age = int(str(child_age).strip())
    except ValueError:
        age = -1
    if not 0 <= age <= 18:
        raise Invalid("bad_child_age", N_("The child age is a whole number from 0 to 18."))
    return records.save(ctx, "library.saved", Library, "code", library,
                        {"school_year_end": end, "child_age": age}, library=library)
