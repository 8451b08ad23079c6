"""The new school year in one action: every class moves up a grade (6A → 7A, "Lớp 5" →
"Lớp 6", "5/2" → "6/2"), the last grade leaves (its pupils' cards expire the day
before, their class is cleared), everyone else's card runs to the end of the school
year that begins. A plan is shown first; the action records the plan it was shown,
checked again under the write lock, as one patron.saved event per pupil: record edits
(last writer wins per field) like any other, so they meet other desks' edits by the
rules every edit does."""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from .. import events, records
from ..errors import N_, Invalid, Refused
from ..models import Library, Loan, Patron
from . import rules

GRADE = re.compile(r"\d+")
NEW_YEAR_GAP = 120  # days: the year that begins, even when this is done before it ends
RECENT_DAYS = 180  # a new year begun this long ago is this year's


def grade_of(name):
    """The grade of a class name: its first number, when it is one from 1 to 12."""
    m = GRADE.search(name or "")
    return int(m.group()) if m and 1 <= int(m.group()) <= 12 else None


def _school_last(highest):
    """The last grade of the school whose highest class is `highest`: a primary school
    ends at 5, a lower secondary at 9, an upper secondary at 12 (so a school that holds
    only grade 6 this year does not send it away)."""
    return next(last for last in (5, 9, 12) if highest <= last)


def next_class(name, last_grade):
    """The class a class becomes: its name with the grade one up; None when it leaves."""
    grade = grade_of(name)
    if grade is None:
        raise ValueError(name)
    if grade >= last_grade:
        return None
    m = GRADE.search(name)
    assert m is not None  # grade_of found it
    return name[:m.start()] + str(grade + 1) + name[m.end():]


@dataclass
class Move:
    school_class: str
    to: str | None  # None: the class leaves
    pupils: list = field(default_factory=list)  # Patron rows
    on_loan: int = 0  # leavers' copies not yet back


@dataclass
class Plan:
    moves: list
    unknown: list  # classes with no grade in their name: left as they are
    last_grade: int | None
    expiry: str  # the cards of those who stay run to this day
    left_on: str  # and those of leavers end on this one
    token: str = ""
    begun: str | None = None  # when a new year was last begun here, if this year


    @property
    def count(self):
        return sum(len(m.pupils) for m in self.moves)


def _pupils(library, classes):
    query = Patron.select().where((Patron.library == library) & ~Patron.deleted
                                  & Patron.school_class.is_null(False))
    found: dict[str, list] = {}
    for p in query.order_by(Patron.school_class, Patron.name_sort):
        if p.school_class and (not classes or p.school_class in classes):
            found.setdefault(p.school_class, []).append(p)
    return found


def classes(library):
    """{class: number of pupils} of a library, in order of grade then name."""
    found = _pupils(library, None)
    return dict(sorted(((k, len(v)) for k, v in found.items()),
                       key=lambda kv: (grade_of(kv[0]) or 99, kv[0])))


def plan(ctx, chosen=None, last_grade=None, expiry=None):
    """What the new school year does to the classes `chosen` (all when None)."""
    today = ctx.clock.today()
    year_end, _age = rules.of(ctx.library)
    found = _pupils(ctx.library, set(chosen) if chosen else None)
    grades = [g for g in (grade_of(c) for c in found) if g is not None]
    last = last_grade or (_school_last(max(grades)) if grades else None)
    end = _expiry(expiry) if expiry else rules.year_end_after(year_end, today, NEW_YEAR_GAP)
    if end <= today:
        raise Invalid("expiry_past", N_("The cards must run to a day after today."))
    moves, unknown = [], []
    for name, pupils in sorted(found.items(), key=lambda kv: (grade_of(kv[0]) or 99, kv[0])):
        if grade_of(name) is None:
            unknown.append(name)
            continue
        moves.append(Move(name, next_class(name, last), pupils))
    leaving = [p.id for m in moves if m.to is None for p in m.pupils]
    if leaving:
        _count_loans(moves, leaving)
    result = Plan(moves, unknown, last, end.isoformat(),
                  (today - timedelta(days=1)).isoformat())
    result.token = _token(result)
    lib = Library.get_or_none(Library.code == ctx.library)
    if lib is not None and lib.school_year_begun and (
            today - date.fromisoformat(lib.school_year_begun)).days < RECENT_DAYS:
        result.begun = lib.school_year_begun  # a second time would move them up twice
    return result


def _expiry(text):
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        raise Invalid("bad_date", N_("%(value)s is not a date (YYYY-MM-DD)."), value=text)


def _count_loans(moves, leaving):
    counts: dict[str, int] = {}
    for patron_id in Loan.select(Loan.patron).where(
            (Loan.patron << leaving) & Loan.returned_at.is_null()).scalars():
        counts[patron_id] = counts.get(patron_id, 0) + 1
    for move in moves:
        if move.to is None:
            move.on_loan = sum(counts.get(p.id, 0) for p in move.pupils)


def _token(p):
    """A digest of what the plan changes: the action carries out the plan staff saw."""
    text = "|".join(f"{pupil.id}:{m.school_class}>{m.to}:{pupil.expiry}"
                    for m in p.moves for pupil in m.pupils)
    return hashlib.sha256(f"{p.expiry}|{p.left_on}|{text}".encode()).hexdigest()[:16]


def changes(p, pupil, move):
    """The fields a pupil's card gets."""
    if move.to is None:
        ends = min(pupil.expiry or p.left_on, p.left_on)
        return {"school_class": None, "expiry": ends}
    return {"school_class": move.to, "expiry": p.expiry}


@events.command
def begin(ctx, token, chosen=None, last_grade=None, expiry=None, progress=None):
    """Carry out the plan whose token staff saw; refused when the classes changed since."""
    p = plan(ctx, chosen, last_grade, expiry)
    if p.token != token:
        raise Refused("plan_changed", N_("The classes changed since the preview (a pupil "
                                         "was added or edited). Look at the new preview."))
    if not p.count:
        raise Invalid("no_pupils", N_("No pupil has a class to move up."))
    done = 0
    for move in p.moves:
        for pupil in move.pupils:
            records.save(ctx, "patron.saved", Patron, "id", pupil.id,
                         changes(p, pupil, move), library=ctx.library)
            done += 1
            if progress:
                progress(done, p.count)
    records.save(ctx, "library.saved", Library, "code", ctx.library,
                 {"school_year_begun": ctx.clock.today().isoformat()}, library=ctx.library)
    return p
