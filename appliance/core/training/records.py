"""Training records: the library's staff list, exercises done, courses attended.

Each is an event of the real library (never of a practice copy), so it syncs to the
hub like a loan, and the hub's "staff trained" indicator counts from them."""

from datetime import date, datetime, timedelta, timezone

from .. import events
from ..errors import N_, Forbidden, Invalid, NotFound
from ..ids import new_id
from ..models import TrainingCourse, TrainingExercise, TrainingRoster, User

STAFF_ROLES = ("librarian", "branch_admin", "hub_admin")
COURSE_YEARS = 2  # a course counts for this long


def staff_accounts(ctx):
    """This device's active staff accounts of its library, as the staff list says them."""
    rows = User.select().where((User.library == ctx.library) & User.active
                               & (User.role << STAFF_ROLES)).order_by(User.username)
    return [{"username": u.username, "role": u.role} for u in rows]


@events.command
def list_staff(ctx):
    """Record the library's staff list when it differs from the one held: the hub counts
    who is to be trained from it. Nothing is recorded when nothing changed, nor for a
    device with no staff account yet (housekeeping runs before anyone is set up)."""
    staff = staff_accounts(ctx)
    held = TrainingRoster.get_or_none(TrainingRoster.library == ctx.library)
    if (held.staff if held is not None else []) == staff:
        return False
    events.record(ctx, "training.staff", {"library": ctx.library, "staff": staff,
                                          "at": ctx.clock.iso_now()}, library=ctx.library)
    return True


@events.command
def exercise_done(ctx, staff, exercise, started_at, seconds):
    body = {"id": new_id(), "library": ctx.library, "staff": staff, "exercise": exercise,
            "started_at": started_at, "done_at": ctx.clock.iso_now(),
            "seconds": max(0, int(seconds))}
    events.record(ctx, "training.exercise", body, library=ctx.library)
    return body


def _text(value, what, limit=255):
    text = (value or "").strip()
    if not text:
        raise Invalid("missing", N_("Fill in %(what)s."), what=what)
    if len(text) > limit:
        raise Invalid("too_long", N_("%(text)s… is too long: at most %(limit)s characters."),
                      text=text[:20], limit=limit)
    return text


def _day(value):
    try:
        return date.fromisoformat(str(value or "").strip()).isoformat()
    except ValueError:
        raise Invalid("bad_date", N_("%(value)s is not a date (YYYY-MM-DD)."),
                      value=value or "") from None


def _hours(value):
    try:
        hours = float(str(value).replace(",", "."))
    except (TypeError, ValueError):
        raise Invalid("bad_hours", N_("Hours must be a number.")) from None
    if not 0 < hours <= 2000:
        raise Invalid("bad_hours", N_("Hours must be more than 0 and at most 2000."))
    return round(hours, 2)


@events.command
def add_course(ctx, library, staff, name, organiser, day, hours, certificate=None,
               actor=None):
    """A course attended outside. A branch's admins enter their own library's staff; the
    hub's admins any library's."""
    library = (library or ctx.library).strip()
    if ctx.role != "hub" and library != ctx.library:
        raise Forbidden("other_library", N_("Training records of library %(library)s are "
                                            "kept only there or at the hub."),
                        library=library)
    body = {"id": new_id(), "library": library, "staff": _text(staff, N_("the account"), 64),
            "name": _text(name, N_("the course's name")),
            "organiser": _text(organiser, N_("the organiser")), "day": _day(day),
            "hours": _hours(hours), "certificate": certificate, "actor": actor,
            "at": ctx.clock.iso_now()}
    if body["day"] > ctx.clock.today().isoformat():
        raise Invalid("future_date", N_("The course's date %(value)s has not come yet."),
                      value=body["day"])
    events.record(ctx, "training.course", body, library=library)
    return TrainingCourse.get_by_id(body["id"])


@events.command
def remove_course(ctx, course_id, actor=None):
    row = TrainingCourse.get_or_none(TrainingCourse.id == course_id)
    if row is None or row.deleted or (ctx.role != "hub" and row.library != ctx.library):
        raise NotFound("course_not_found", N_("No course record %(id)s here."), id=course_id)
    body = {"id": row.id, "library": row.library, "staff": row.staff, "name": row.name,
            "organiser": row.organiser, "day": row.day, "hours": row.hours,
            "certificate": row.certificate, "actor": actor, "deleted": True,
            "at": ctx.clock.iso_now()}
    events.record(ctx, "training.course", body, library=row.library)


def courses(library=None, staff=None):
    q = TrainingCourse.select().where(~TrainingCourse.deleted)
    if library:
        q = q.where(TrainingCourse.library == library)
    if staff:
        q = q.where(TrainingCourse.staff == staff)
    return list(q.order_by(TrainingCourse.day.desc(), TrainingCourse.id))


def exercises_done(library=None, staff=None):
    q = TrainingExercise.select()
    if library:
        q = q.where(TrainingExercise.library == library)
    if staff:
        q = q.where(TrainingExercise.staff == staff)
    return list(q.order_by(TrainingExercise.done_at))


def status(core, libraries=None, today=None):
    """Who is trained, per library: {library: {"staff": [...], "trained": [...],
    "untrained": [...]}} for the libraries whose staff list is held. Trained: every
    exercise of `core` done, or a course within the last COURSE_YEARS years."""
    today = today or datetime.now(timezone.utc).date()
    since = (today - timedelta(days=365 * COURSE_YEARS + 1)).isoformat()
    rosters = TrainingRoster.select()
    if libraries is not None:
        rosters = rosters.where(TrainingRoster.library << list(libraries))
    out = {}
    for roster in rosters.order_by(TrainingRoster.library):
        done: dict[str, set] = {}
        for ex in TrainingExercise.select(TrainingExercise.staff, TrainingExercise.exercise)\
                .where(TrainingExercise.library == roster.library):
            done.setdefault(ex.staff, set()).add(ex.exercise)
        coursed = {c.staff for c in TrainingCourse.select(TrainingCourse.staff).where(
            (TrainingCourse.library == roster.library) & ~TrainingCourse.deleted
            & (TrainingCourse.day >= since))}
        names = [s["username"] for s in roster.staff]
        trained = [n for n in names if n in coursed or set(core) <= done.get(n, set())]
        out[roster.library] = {"staff": names, "trained": trained,
                               "untrained": [n for n in names if n not in trained]}
    return out


def town_counts(core, today=None):
    """(trained, staff) over every library whose staff list the hub holds; (None, None)
    when it holds none: no data, not a zero."""
    per = status(core, today=today)
    if not per:
        return None, None
    return (sum(len(v["trained"]) for v in per.values()),
            sum(len(v["staff"]) for v in per.values()))
