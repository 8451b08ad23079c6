"""The guided exercises and their checks.

An exercise is started in a practice copy (the copy's log position is kept), and is
done when the copy's log holds, after that position, the events its steps ask for: the
trainee's own work (the copy is theirs alone; an event that names its actor must name
them). Nothing is ticked by hand. Printing a label and exporting a report make no event
of the library, so in a practice copy they leave a step event in the device's local
chain (`note_step`), which never syncs.

When every step holds, the exercise is recorded in the real library (records.py), with
when it started and how long it took."""

import json
import time
from collections import namedtuple
from collections.abc import Iterable
from typing import cast

from .. import circulation, events
from ..errors import N_, Forbidden, NotFound
from ..ids import new_id
from ..models import Conflict, Event, Item, Patron, Setting

Exercise = namedtuple("Exercise", "code title intro steps")
Step = namedtuple("Step", "text test")


def _each(evs, kind):
    return [b for k, b in evs if k == kind]


def _new(b):
    return bool(b.get("new"))


def _ids(evs, kind, key):
    return {b.get(key) for b in _each(evs, kind) if b.get(key)}


def _stepped(name, **match):
    def test(evs):
        return any(b.get("step") == name and all(b.get(k) == v for k, v in match.items())
                   for b in _each(evs, "training.step"))
    return test


def _returned(evs):
    return bool(_ids(evs, "loan.out", "loan_id") & _ids(evs, "loan.in", "loan_id"))


def _picked_up(evs):
    placed = _ids(evs, "hold.placed", "hold_id")
    return bool(placed & _ids(evs, "hold.trapped", "hold_id") & _ids(evs, "loan.out",
                                                                          "hold_id"))


def _registered(evs):
    return any(_new(b) and not (b.get("fields") or {}).get("school_class")
               for b in _each(evs, "patron.saved"))


def _class_list(evs):
    return sum(1 for b in _each(evs, "patron.saved")
               if _new(b) and (b.get("fields") or {}).get("school_class")) >= 2


def _stocktaken(evs):
    started = _ids(evs, "stocktake.started", "stocktake_id")
    return bool(started & _ids(evs, "stocktake.seen", "stocktake_id")
                & _ids(evs, "stocktake.finished", "stocktake_id"))


EXERCISES = [
    Exercise("checkout_return", N_("Check out and return"),
             N_("Lend a copy to a patron at the desk, then take it back."), [
                 Step(N_("Check out a copy to a patron (Desk → Check out)."),
                      lambda evs: bool(_each(evs, "loan.out"))),
                 Step(N_("Return that same copy (Desk → Return)."), _returned)]),
    Exercise("renew", N_("Renew a loan"),
             N_("Give a patron more time with a book they have."), [
                 Step(N_("Renew a loan from the patron's page or by the copy's barcode."),
                      lambda evs: bool(_each(evs, "loan.renew")))]),
    Exercise("hold_pickup", N_("A hold from request to pickup"),
             N_("A patron asks for a title; a copy is put aside for them; they collect it."), [
                 Step(N_("Place a hold on a title for a patron."),
                      lambda evs: bool(_each(evs, "hold.placed"))),
                 Step(N_("Return or check in a copy of that title so it goes to the hold "
                         "shelf."), lambda evs: bool(_ids(evs, "hold.placed", "hold_id")
                                                      & _ids(evs, "hold.trapped", "hold_id"))),
                 Step(N_("Check the copy out to the patron who asked for it."), _picked_up)]),
    Exercise("register", N_("Register a patron and a class list"),
             N_("Make a card for a new reader, then bring in a school's class list."), [
                 Step(N_("Register a new patron at the desk (Patrons → New patron)."),
                      _registered),
                 Step(N_("Import a class list (Patrons → Import a class list) with at least "
                         "two pupils."), _class_list)]),
    Exercise("catalogue_label", N_("Catalogue a book and print its label"),
             N_("Add a new title with a copy, then print the copy's label."), [
                 Step(N_("Catalogue a new record (Cataloguing → New record)."),
                      lambda evs: any(_new(b) for b in _each(evs, "bib.saved"))),
                 Step(N_("Add a copy to it."),
                      lambda evs: any(_new(b) for b in _each(evs, "item.saved"))),
                 Step(N_("Print its label (the label sheet opens after adding copies)."),
                      _stepped("labels.printed"))]),
    Exercise("conflict", N_("Handle a conflict"),
             N_("When two places changed the same thing, staff decide what stands."), [
                 Step(N_("Open Conflicts at the desk and resolve one."),
                      lambda evs: bool(_each(evs, "conflict.resolved")))]),
    Exercise("stocktake", N_("Stocktake of a shelf"),
             N_("Count one shelf against the catalogue."), [
                 Step(N_("Start a stocktake of one location or call-number range."),
                      lambda evs: bool(_each(evs, "stocktake.started"))),
                 Step(N_("Scan at least one copy on that shelf."),
                      lambda evs: bool(_ids(evs, "stocktake.started", "stocktake_id")
                                       & _ids(evs, "stocktake.seen", "stocktake_id"))),
                 Step(N_("Finish the stocktake and read its result."), _stocktaken)]),
    Exercise("semiannual", N_("Export the semi-annual report"),
             N_("The figures the town asks for twice a year."), [
                 Step(N_("Open Reports, choose a half-year and download it (PDF, XLSX or "
                         "CSV)."), _stepped("report.exported", half=True))]),
]
BY_CODE = {e.code: e for e in EXERCISES}
# What a staff member must have done to count as trained without a course.
CORE = ("checkout_return", "renew", "hold_pickup", "register", "catalogue_label")


def get(code):
    if code not in BY_CODE:
        raise NotFound("exercise_not_found", N_("No exercise %(name)s."), name=code)
    return BY_CODE[code]


def _key(code):
    return f"training:{code}"


def start(practice, code):
    """Start (or start again) an exercise in the practice copy `practice` (bound)."""
    get(code)
    if code == "conflict" and not Conflict.select().where(
            (Conflict.library == practice.library) & (Conflict.status == "open")).exists():
        plant_conflict(practice)
    pos = Event.select(Event.pos).order_by(Event.pos.desc()).limit(1).scalar() or 0
    value = {"pos": pos, "at": practice.clock.iso_now(), "t": time.time(), "done": None}
    Setting.insert(key=_key(code), value=value).on_conflict(
        conflict_target=[Setting.key], update={Setting.value: value}).execute()
    return value


PRACTICE_DESK = "thuchanh-quay2"  # the other desk of a planted conflict (no such device)


def plant_conflict(practice):
    """A conflict to handle: a copy lent here and, unseen, at another desk of the
    library to another patron (as two desks cut off from each other do), both loans
    arriving in the copy. Only ever in a practice copy."""
    if not getattr(practice, "practice", False):
        raise Forbidden("not_practice", N_("A conflict is planted only in a practice copy."))
    item = Item.select().where((Item.library == practice.library) & (
        Item.status == "available") & (Item.item_type != "reference")).order_by(
        Item.barcode).first()
    people = list(Patron.select().where((Patron.library == practice.library) & ~Patron.deleted
                                        & ~Patron.blocked).order_by(Patron.card).limit(2))
    if item is None or len(people) < 2:
        return False
    at = practice.clock.iso_now()
    other = {"id": new_id(), "origin": PRACTICE_DESK, "seq": events.head(PRACTICE_DESK)[0] + 1,
             "hlc": practice.clock.now(), "wall": at, "library": practice.library,
             "kind": "loan.out", "prev_hash": events.head(PRACTICE_DESK)[1],
             "body": {"loan_id": new_id(), "item_id": item.id, "patron_id": people[1].id,
                      "library": practice.library, "due_date": practice.clock.today()
                      .isoformat(), "at": at, "hold_id": None, "actor": None}}
    other["hash"] = events.event_hash(other)
    circulation.checkout(practice, people[0].card, item.barcode)
    events.ingest(practice, [other])
    return True


def started(code):
    row = Setting.get_or_none(Setting.key == _key(code))
    return row.value if row is not None else None


def _events_after(pos, actor):
    out = []
    rows = cast("Iterable[tuple[str, str]]", Event.select(Event.kind, Event.body).where(
        Event.pos > pos).order_by(Event.pos).tuples())
    for kind, text in rows:
        body = json.loads(text)
        if body.get("actor") not in (None, actor):
            continue  # someone else's (a kiosk at the same copy): not this trainee's work
        out.append((kind, body))
    return out


def progress(code, actor):
    """[(step text, done)] of an exercise started in the bound practice copy, or None."""
    begun = started(code)
    if begun is None:
        return None
    evs = _events_after(begun["pos"], actor)
    return [(step.text, bool(step.test(evs))) for step in get(code).steps]


def check(practice, code, actor):
    """Whether the exercise is done; the first time it is, it is marked so in the copy
    and {"started_at", "seconds"} is returned for the real library's record."""
    steps = progress(code, actor)
    begun = started(code)
    if not steps or not all(done for _, done in steps) or begun.get("done"):
        return None
    seconds = int(time.time() - begun["t"])
    Setting.update(value=dict(begun, done=practice.clock.iso_now(), seconds=seconds)).where(
        Setting.key == _key(code)).execute()
    return {"started_at": begun["at"], "seconds": seconds}


def note_step(practice, step, actor=None, **details):
    """A step that makes no event of the library (a label printed, a report exported),
    in the practice copy's local chain, which no sync ships."""
    events.record(practice, "training.step", dict(details, step=step, actor=actor),
                  local=True)
