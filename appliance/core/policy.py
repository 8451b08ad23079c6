"""Loan rules (library x patron category x item type) and the library calendar."""

from datetime import timedelta

from . import authority, events, memo
from .errors import N_, Invalid
from .models import ClosedDay, Library, LoanRule
from .prepared import Prepared

CATEGORIES = ("child", "pupil", "adult", "staff")
RULES = Prepared(LoanRule, lambda *ids: LoanRule.select().where(LoanRule.id << list(ids)), 4)
LIBRARY = Prepared(Library, lambda code: Library.select().where(Library.code == code), 1)
CLOSED = Prepared(ClosedDay, lambda library: ClosedDay.select().where(
    ClosedDay.library == library), 1)
RULE_FIELDS = ("loan_days", "max_loans", "max_renewals", "holds_allowed", "fee_per_day")
DEFAULT_RULE = {"loan_days": 14, "max_loans": 5, "max_renewals": 2, "holds_allowed": True,
                "fee_per_day": 0}


def rule_for(library, category, item_type):
    """The most specific rule: exact, then any item type, then any category, then any.
    Shared between callers: read it, do not change it."""
    return memo.cached("policy", ("rule", library, category, item_type),
                       lambda: _find_rule(library, category, item_type))


def loan_terms(library, category, item_type, start):
    """(rule, due date) for a loan starting on `start`: the desk's one question, one
    lookup of the stamp."""
    def compute():
        rule = _find_rule(library, category, item_type)
        return rule, _due(library, start, rule.loan_days)
    return memo.cached("policy", ("terms", library, category, item_type, start), compute)


def _find_rule(library, category, item_type):
    ids = [f"{library}|{cat}|{typ}" for cat, typ in (
        (category, item_type), (category, "*"), ("*", item_type), ("*", "*"))]
    found = {rule.id: rule for rule in RULES.all(*ids)}
    for rule_id in ids:
        if rule_id in found:
            return found[rule_id]
    return LoanRule(library=library, category="*", item_type="*", **DEFAULT_RULE)


@events.command
def save_rule(ctx, library, category, item_type, **values):
    authority.require_own(ctx, library, "settings")
    if category != "*" and category not in CATEGORIES:
        raise Invalid("bad_category", N_("Unknown patron category: %(category)s."),
                      category=category)
    body = {"library": library, "category": category, "item_type": item_type or "*"}
    for name in RULE_FIELDS:
        value = values.get(name, DEFAULT_RULE[name])
        if name == "holds_allowed":
            body[name] = bool(value)
            continue
        try:
            body[name] = int(value)
        except (TypeError, ValueError):
            raise Invalid("bad_number", N_("%(field)s must be a whole number."), field=name)
        if body[name] < 0:
            raise Invalid("bad_number", N_("%(field)s cannot be negative."), field=name)
    events.record(ctx, "rule.saved", body, library=library)
    return rule_for(library, category, body["item_type"])


@events.command
def delete_rule(ctx, library, category, item_type):
    authority.require_own(ctx, library, "settings")
    body = {"library": library, "category": category, "item_type": item_type, "deleted": True}
    body.update({k: DEFAULT_RULE[k] for k in RULE_FIELDS})
    events.record(ctx, "rule.saved", body, library=library)


@events.command
def set_closed(ctx, library, day, closed=True, reason=None):
    authority.require_own(ctx, library, "settings")
    events.record(ctx, "calendar.saved", {"library": library, "day": day.isoformat(),
                                          "closed": closed, "reason": reason}, library=library)


def _calendar(library):
    """(closed weekdays, closed days as ISO dates) of a library."""
    lib = LIBRARY.first(library)
    return (frozenset(lib.closed_weekdays or []) if lib else frozenset(),
            frozenset(row.day for row in CLOSED.all(library)))


def is_closed(library, day):
    return due_date(library, day, 0) != day


def due_date(library, start, days):
    """`days` after `start`, moved forward past closed days (at most a year)."""
    return memo.cached("policy", ("due", library, start, days),
                       lambda: _due(library, start, days))


def _due(library, start, days):
    due = start + timedelta(days=days)
    weekly, closed = _calendar(library)
    if len(weekly) >= 7:
        return due
    last = due + timedelta(days=366)
    while (due.weekday() in weekly or due.isoformat() in closed) and due < last:
        due += timedelta(days=1)
    return due
