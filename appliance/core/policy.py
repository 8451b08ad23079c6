"""Loan rules (library x patron category x item type) and the library calendar."""

from datetime import date, timedelta

from . import authority, events, memo
from .errors import N_, Invalid
from .models import ClosedDay, Library, LoanRule
from .prepared import Prepared

CATEGORIES = ("child", "pupil", "adult", "staff")
RULES = Prepared(LoanRule, lambda *ids: LoanRule.select().where(LoanRule.id << list(ids)), 4)
LIBRARY = Prepared(Library, lambda code: Library.select().where(Library.code == code), 1)
CLOSED = Prepared(ClosedDay, lambda library: ClosedDay.select().where(
    ClosedDay.library == library), 1)
RULE_FIELDS = ("loan_days", "max_loans", "max_renewals", "holds_allowed", "fee_per_day",
               "renew_window_days", "block_overdue_days", "block_overdue_items",
               "postal_days", "replacement_fee", "fee_limit")
# renew_window_days: a loan is renewed only in its last N days before it is due (0: on
# any day the renewal moves the due date). block_overdue_days: a card with a copy more
# than N days overdue borrows nothing until it is back; block_overdue_items: nor with N
# or more copies overdue (0: never, for either). replacement_fee: what a copy lost or
# damaged on loan costs the borrower when the copy has no price of its own (VND; 0: staff
# must record the price first). fee_limit: a card owing more than this in fees borrows
# nothing (VND; 0: any unpaid fee stops new loans).
DEFAULT_RULE = {"loan_days": 14, "max_loans": 5, "max_renewals": 2, "holds_allowed": True,
                "fee_per_day": 0, "renew_window_days": 0, "block_overdue_days": 30,
                "block_overdue_items": 0, "postal_days": 7, "replacement_fee": 0,
                "fee_limit": 0}
# Settings added after rules were first saved: a rule saved before them has none (NULL)
# and takes the default. postal_days: the post's days, added to a loan by post.
LATER_FIELDS = ("renew_window_days", "block_overdue_days", "block_overdue_items",
                "postal_days", "replacement_fee", "fee_limit")


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
            return filled(found[rule_id])
    return LoanRule(library=library, category="*", item_type="*", **DEFAULT_RULE)


def filled(rule):
    """A rule with the settings it was saved without, at their defaults."""
    for name in LATER_FIELDS:
        if getattr(rule, name) is None:
            setattr(rule, name, DEFAULT_RULE[name])
    return rule


def overdue_blocks(library, patron, overdue, today):
    """Why the patron's overdue copies stop new loans here, by the rule of the library
    and the patron's category: a list of (code, msgid, params). `overdue`: (how many of
    the open loans are overdue, the earliest due date of those), worked out from the open
    loans each time, never a stored flag, so it lifts the moment the copies are back."""
    count, earliest = overdue
    if not count:
        return []
    rule = rule_for(library, patron.category, "*")
    reasons = []
    days = (today - date.fromisoformat(earliest)).days
    if rule.block_overdue_days and days > rule.block_overdue_days:
        reasons.append(("overdue_too_long", N_(
            "A copy is %(days)s days overdue (the limit is %(limit)s): no new loans until "
            "it is back."), {"days": days, "limit": rule.block_overdue_days}))
    if rule.block_overdue_items and count >= rule.block_overdue_items:
        reasons.append(("overdue_too_many", N_(
            "%(count)s copies are overdue (the limit is %(limit)s): no new loans until they "
            "are back."), {"count": count, "limit": rule.block_overdue_items}))
    return reasons


@events.command
def save_rule(ctx, library, category, item_type, **values):
    authority.require_own(ctx, library, "settings")
    if category != "*" and category not in CATEGORIES:
        raise Invalid("bad_category", N_("Unknown patron category: %(category)s."),
                      category=category)
    body = {"library": library, "category": category, "item_type": item_type or "*"}
    for name in RULE_FIELDS:
        value = values.get(name)
        value = DEFAULT_RULE[name] if value is None or value == "" else value
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


def library_name(ctx):
    """This device's library as its papers and e-mails name it."""
    lib = Library.get_or_none(Library.code == ctx.library)
    return (lib.name if lib else "") or ctx.setting("library_name") or ctx.library
