"""The new school year: classes up a grade, the last grade leaves (cards expired, class
cleared), the rest extended to the end of the new year; one action, as events, carried
out only as previewed."""

from datetime import date, timedelta

import pytest

from appliance.core import circulation, patrons, verify
from appliance.core.errors import DomainError, Invalid
from appliance.core.models import Event, Library, Patron
from appliance.core.roster import rules, schoolyear


@pytest.mark.parametrize("name, last, expected", [
    ("6A", 9, "7A"), ("Lớp 5", 9, "Lớp 6"), ("5/2", 9, "6/2"), ("10A1", 12, "11A1"),
    ("9A", 9, None), ("12 Toán", 12, None), ("Lớp 5", 5, None)])
def test_next_class(name, last, expected):
    assert schoolyear.next_class(name, last) == expected


def test_classes_without_a_grade_are_not_guessed():
    assert schoolyear.grade_of("Lá") is None and schoolyear.grade_of("Lớp 15") is None
    with pytest.raises(ValueError):
        schoolyear.next_class("Chồi", 9)


def _pupil(ctx, card, school_class, expiry="2099-05-31"):
    return patrons.save(ctx, {"card": card, "name": f"Học sinh {card}", "category": "pupil",
                              "school_class": school_class, "expiry": expiry,
                              "birth_date": "2012-01-01"})


@pytest.fixture
def school(ctx):
    for n, school_class in enumerate(["6A", "6A", "7B", "9A", "9A", "Lá"]):
        _pupil(ctx, f"HS{n}", school_class)
    circulation.checkout(ctx, "HS3", "1001")
    return ctx


def test_the_plan_then_the_year(school):
    ctx = school
    plan = schoolyear.plan(ctx)
    assert plan.last_grade == 9  # a lower secondary school: 9 is its last grade
    assert [(m.school_class, m.to, len(m.pupils), m.on_loan) for m in plan.moves] == [
        ("6A", "7A", 2, 0), ("7B", "8B", 1, 0), ("9A", None, 2, 1)]
    assert plan.unknown == ["Lá"]
    today = ctx.clock.today()
    new_end = rules.year_end_after(rules.YEAR_END, today, schoolyear.NEW_YEAR_GAP)
    assert plan.expiry == new_end.isoformat() and new_end > today + timedelta(days=120)
    before = Event.select().where(Event.kind != "patron.key").count()
    schoolyear.begin(ctx, plan.token)
    assert Event.select().where(Event.kind != "patron.key").count() == before + 5 + 1  # and the day it was begun
    held = {p.card: (p.school_class, p.expiry) for p in Patron.select().where(
        Patron.card.startswith("HS"))}
    yesterday = (today - timedelta(days=1)).isoformat()
    assert held == {"HS0": ("7A", plan.expiry), "HS1": ("7A", plan.expiry),
                    "HS2": ("8B", plan.expiry), "HS3": (None, yesterday),
                    "HS4": (None, yesterday), "HS5": ("Lá", "2099-05-31")}
    assert Library.get_by_id(ctx.library).school_year_begun == today.isoformat()
    assert schoolyear.plan(ctx).begun == today.isoformat()  # a second time is warned of
    assert verify.state_matches_rebuild(ctx) == []


def test_a_leaver_is_never_given_a_longer_card(school):
    ctx = school
    _pupil(ctx, "HS9", "9C", expiry="2020-05-31")
    plan = schoolyear.plan(ctx, chosen=["9C"])
    schoolyear.begin(ctx, plan.token, chosen=["9C"])
    assert patrons.find(ctx, "HS9").expiry == "2020-05-31"
    assert patrons.blocks(ctx, patrons.find(ctx, "HS9"))[0][0] == "patron_expired"


def test_one_class_and_a_changed_plan(school):
    ctx = school
    plan = schoolyear.plan(ctx, chosen=["6A"], last_grade=12)
    assert [(m.school_class, m.to) for m in plan.moves] == [("6A", "7A")]
    _pupil(ctx, "HS8", "6A")  # another desk registers a pupil in 6A meanwhile
    before = Event.select().where(Event.kind != "patron.key").count()
    with pytest.raises(DomainError) as e:
        schoolyear.begin(ctx, plan.token, chosen=["6A"], last_grade=12)
    assert e.value.code == "plan_changed"
    assert Event.select().where(Event.kind != "patron.key").count() == before
    plan = schoolyear.plan(ctx, chosen=["6A"], last_grade=12)
    schoolyear.begin(ctx, plan.token, chosen=["6A"], last_grade=12)
    assert Patron.select().where(Patron.school_class == "7A").count() == 3
    assert Patron.select().where(Patron.school_class == "9A").count() == 2


def test_the_library_sets_its_school_year(ctx):
    rules.save(ctx, ctx.library, "31/08", "11")
    lib = Library.get_by_id(ctx.library)
    assert (lib.school_year_end, lib.child_age) == ("08-31", 11)
    assert rules.of(ctx.library) == ("08-31", 11)
    assert rules.year_end_after("08-31", date(2026, 9, 5)) == date(2027, 8, 31)
    assert rules.year_end_after("05-31", date(2026, 5, 25), 120) == date(2027, 5, 31)
    for end, age in (("31/02", "11"), ("mai", "11"), ("31/05", "40")):
        with pytest.raises(Invalid):
            rules.save(ctx, ctx.library, end, age)
    assert verify.state_matches_rebuild(ctx) == []
