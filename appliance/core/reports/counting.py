"""Counting what the loans do not show: visits (a patron who identifies at the desk or
kiosk, once a day; readers counted by hand for a day) and copies read on site. Each is
an event, so the counts sync to the hub and a rebuild gives them again."""

from datetime import date

from .. import events
from ..catalogue import get_item
from ..errors import N_, Invalid
from ..ids import new_id
from ..models import Visit

MAX_DAILY_COUNT = 100000  # a typing slip, not a day's readers


def patron_identified(ctx, patron):
    """Count a visit for a patron who identified here today; True when it is the first
    today (later ones change nothing, so nothing is recorded)."""
    day = ctx.clock.today().isoformat()
    key = "|".join((ctx.library, day, patron.id))
    with events.writing(ctx):
        if Visit.select().where(Visit.id == key).exists():
            return False
        events.record(ctx, "visit.recorded", {"library": ctx.library, "day": day,
                                              "patron_id": patron.id})
    return True


@events.command
def count_visitors(ctx, day, count, actor=None):
    """The number of readers counted by hand on `day` (who showed no card): it replaces
    the figure given before for that day."""
    try:
        when = date.fromisoformat(str(day).strip())
    except ValueError:
        raise Invalid("bad_date", N_("%(value)s is not a date (YYYY-MM-DD)."), value=day)
    if when > ctx.clock.today():
        raise Invalid("future_day", N_("%(day)s has not come yet: count a day that has "
                                       "passed or today."), day=when.isoformat())
    try:
        number = int(str(count).strip())
    except ValueError:
        raise Invalid("bad_number", N_("%(field)s must be a whole number."), field="count")
    if not 0 <= number <= MAX_DAILY_COUNT:
        raise Invalid("bad_count", N_("The number of readers must be between 0 and "
                                      "%(top)s."), top=MAX_DAILY_COUNT)
    events.record(ctx, "visit.counted", {"library": ctx.library, "day": when.isoformat(),
                                         "count": number, "actor": actor})
    return {"day": when.isoformat(), "count": number}


@events.command
def used_on_site(ctx, barcode, actor=None):
    """A copy read in the library (scanned at the desk before it goes back on the
    shelf): one use of the collection, counted with the loans as items served."""
    item = get_item(ctx, barcode)
    body = {"use_id": new_id(), "library": ctx.library, "day": ctx.clock.today().isoformat(),
            "item_id": item.id, "actor": actor}
    events.record(ctx, "item.used", body)
    return {"item": item.barcode, "day": body["day"]}
