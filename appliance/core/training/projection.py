"""The projector's handlers for training events (projector.HANDLERS names them).

Each gives the same rows whatever order the same events arrive in: a staff list and a
course keep their latest version by clock (ties by what they say), an exercise done is
kept once."""

import json

from ..models import TrainingCourse, TrainingExercise, TrainingRoster


def _key(hlc, body):
    return (hlc, json.dumps(body, sort_keys=True, ensure_ascii=False))


def staff_listed(ev, body):
    row = TrainingRoster.get_or_none(TrainingRoster.library == body["library"])
    staff = sorted(({"username": s["username"], "role": s.get("role") or ""}
                    for s in body.get("staff") or ()), key=lambda s: s["username"])
    if row is None:
        TrainingRoster.insert(library=body["library"], staff=staff, hlc=ev.hlc,
                              at=body.get("at") or ev.wall).execute()
    elif (ev.hlc, body.get("at") or "", json.dumps(staff)) > (row.hlc, row.at,
                                                            json.dumps(row.staff)):
        TrainingRoster.update(staff=staff, hlc=ev.hlc, at=body.get("at") or ev.wall).where(
            TrainingRoster.library == row.library).execute()


def exercise_done(ev, body):
    if TrainingExercise.get_or_none(TrainingExercise.id == body["id"]) is None:
        TrainingExercise.insert(
            id=body["id"], library=body["library"], staff=body["staff"],
            exercise=body["exercise"], started_at=body.get("started_at") or "",
            done_at=body.get("done_at") or ev.wall, seconds=int(body.get("seconds") or 0),
        ).execute()


_COURSE = ("library", "staff", "name", "organiser", "day", "hours", "certificate")


def course_saved(ev, body):
    values = {k: body.get(k) for k in _COURSE}
    values.update(hours=float(body.get("hours") or 0), entered_by=body.get("actor"),
                  deleted=bool(body.get("deleted")), hlc=ev.hlc)
    row = TrainingCourse.get_or_none(TrainingCourse.id == body["id"])
    if row is None:
        TrainingCourse.insert(id=body["id"], **values).execute()
        return
    held = {k: getattr(row, k) for k in _COURSE}
    held.update(hours=row.hours, entered_by=row.entered_by, deleted=row.deleted)
    mine = {k: v for k, v in values.items() if k != "hlc"}
    if _key(ev.hlc, mine) > _key(row.hlc, held):
        TrainingCourse.update(values).where(TrainingCourse.id == row.id).execute()


def step_noted(ev, body):
    """A practice step (exercises.note_step): read from the log, it changes no state."""


HANDLERS = {"training.step": step_noted, "training.staff": staff_listed, "training.exercise": exercise_done,
            "training.course": course_saved}
