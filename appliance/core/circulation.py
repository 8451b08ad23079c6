"""Checkout, checkin and renewal: validate against the rules, then record events."""

from datetime import date

from . import events, holds, patrons, policy
from .catalogue import get_item, title_of
from .errors import N_, Refused
from .ids import new_id
from .lookups import OPEN_LOAN
from .models import Hold, Patron
from .prepared import Prepared, by_key

READY_HOLD = Prepared(Hold, lambda item: Hold.select().where(
    (Hold.item == item) & (Hold.status == "ready")), 1)

NOT_LOANABLE = ("lost", "damaged", "withdrawn", "in_transit")


def _refuse(code, message, **params):
    raise Refused(code, message, **params)


def _check_patron(ctx, patron):
    for code, message, params in patrons.blocks(ctx, patron):
        _refuse(code, message, **params)


def _ready_hold_for_item(item):
    return READY_HOLD.first(item.id)


def _check_item(item, patron):
    if item.status == "on_loan":
        loan = OPEN_LOAN.first(item.id)
        if loan.patron_id == patron.id:
            _refuse("already_on_loan", N_("%(barcode)s is already on loan to this patron."),
                    barcode=item.barcode)
        _refuse("item_on_loan", N_("%(barcode)s is on loan to someone else. Return it first."),
                barcode=item.barcode)
    if item.status in NOT_LOANABLE:
        _refuse("item_not_loanable", N_("%(barcode)s cannot be lent (it is %(status)s)."),
                barcode=item.barcode, status=item.status)
    hold = _ready_hold_for_item(item)
    if hold and hold.patron_id != patron.id:
        _refuse("item_on_hold", N_("%(barcode)s is on hold for another patron."),
                barcode=item.barcode)
    return hold


@events.command
def checkout(ctx, card, barcode, actor=None):
    patron = patrons.find(ctx, card)
    _check_patron(ctx, patron)
    item = get_item(ctx, barcode)
    hold = _check_item(item, patron)
    rule = policy.rule_for(item.library, patron.category, item.item_type)
    if rule.loan_days <= 0:
        _refuse("item_not_loanable", N_("%(barcode)s cannot be lent (it is %(status)s)."),
                barcode=item.barcode, status=item.item_type)
    if len(patrons.open_loans(patron)) >= rule.max_loans:
        _refuse("loan_limit", N_("The patron already has %(count)s loans, the limit."),
                count=rule.max_loans)
    today = ctx.clock.today()
    due = policy.due_date(item.library, today, rule.loan_days)
    body = {"loan_id": new_id(), "item_id": item.id, "patron_id": patron.id,
            "library": item.library, "due_date": due.isoformat(), "at": ctx.clock.iso_now(),
            "hold_id": hold.id if hold else None, "actor": actor}
    events.record(ctx, "loan.out", body, library=item.library)
    return {"loan_id": body["loan_id"], "due_date": body["due_date"], "item": item.barcode,
            "patron": patron.card, "title": title_of(item), "renewals_left": rule.max_renewals}


def _fee(rule, due_date, today):
    late = (today - date.fromisoformat(due_date)).days
    return max(0, late) * rule.fee_per_day


@events.command
def checkin(ctx, barcode, actor=None):
    item = get_item(ctx, barcode)
    loan = OPEN_LOAN.first(item.id)
    if loan is None:
        return {"loan_id": None, "item": item.barcode, "title": title_of(item), "hold": None,
                "transit": None, "fee": 0, "was_on_loan": False}
    patron = by_key(Patron, "id").first(loan.patron_id)
    rule = policy.rule_for(item.library, patron.category, item.item_type)
    today = ctx.clock.today()
    transit = item.library if item.library != ctx.library else None
    body = {"loan_id": loan.id, "item_id": item.id, "at": ctx.clock.iso_now(),
            "fee": _fee(rule, loan.due_date, today), "transit_to": transit, "actor": actor}
    with events.writing(ctx):
        events.record(ctx, "loan.in", body, library=item.library)
        hold = None if transit else holds.trap(ctx, item)
    return {"loan_id": loan.id, "item": item.barcode, "title": title_of(item),
            "patron": patron.card, "fee": body["fee"], "transit": transit,
            "hold": hold, "was_on_loan": True, "overdue": loan.due_date < today.isoformat()}


@events.command
def renew(ctx, barcode, actor=None, patron_card=None):
    item = get_item(ctx, barcode)
    loan = OPEN_LOAN.first(item.id)
    if loan is None:
        _refuse("not_on_loan", N_("%(barcode)s is not on loan."), barcode=item.barcode)
    patron = by_key(Patron, "id").first(loan.patron_id)
    if patron_card is not None and patron.card != patron_card:
        _refuse("not_your_loan", N_("%(barcode)s is not on loan to you."), barcode=item.barcode)
    _check_patron(ctx, patron)
    rule = policy.rule_for(item.library, patron.category, item.item_type)
    if loan.renewals >= rule.max_renewals:
        _refuse("renewal_limit", N_("%(barcode)s has been renewed %(count)s times, the limit."),
                barcode=item.barcode, count=rule.max_renewals)
    if holds.waiting_for(item.bib_id, item.library):
        _refuse("item_on_hold", N_("%(barcode)s is on hold for another patron."),
                barcode=item.barcode)
    due = policy.due_date(item.library, ctx.clock.today(), rule.loan_days)
    due = max(due, date.fromisoformat(loan.due_date))
    events.record(ctx, "loan.renew", {"loan_id": loan.id, "due_date": due.isoformat(),
                                      "max_renewals": rule.max_renewals, "actor": actor},
                  library=item.library)
    return {"loan_id": loan.id, "item": item.barcode, "due_date": due.isoformat(),
            "renewals_left": rule.max_renewals - loan.renewals - 1}
