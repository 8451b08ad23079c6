"""Checkout, checkin and renewal: validate against the rules, then record events."""

from datetime import date

import peewee as pw

from . import catalogue, events, holds, patrons, policy, records, townwide
from .catalogue import get_item, title_of
from .errors import N_, Refused
from .ids import new_id
from .lookups import OPEN_LOAN
from .models import Bib, Hold, Item, Loan, Patron
from .prepared import Prepared, by_key

NOT_LOANABLE = ("lost", "damaged", "withdrawn", "in_transit")
# Circulation reads copies and patrons, never edits them: their per-field clocks need
# not be decoded.
_COPY_FIELDS = [f for f in Item._meta.sorted_fields if f.name != "field_hlc"]
_PATRON_FIELDS = [f for f in Patron._meta.sorted_fields if f.name != "field_hlc"]


def _copy_query(barcode, library):
    ready, loan, borrower = Hold.alias(), Loan.alias(), Patron.alias()
    return (Item.select(*_COPY_FIELDS, Bib.title.alias("bib_title"),
                        ready.id.alias("ready_hold_id"), ready.patron.alias("ready_hold_for"),
                        loan.id.alias("loan_id"), loan.patron.alias("loan_patron"),
                        loan.due_date.alias("loan_due_date"),
                        borrower.category.alias("borrower_category"),
                        borrower.card.alias("borrower_card"))
            .join_from(Item, Bib, pw.JOIN.LEFT_OUTER)
            .join_from(Item, ready, pw.JOIN.LEFT_OUTER,
                       on=(ready.item == Item.id) & (ready.status == "ready"))
            .join_from(Item, loan, pw.JOIN.LEFT_OUTER,
                       on=(loan.item == Item.id) & loan.returned_at.is_null())
            .join_from(loan, borrower, pw.JOIN.LEFT_OUTER, on=borrower.id == loan.patron)
            .where((Item.barcode == barcode) & (Item.library == library)).limit(1))


# A copy as the desk needs it, in one statement: its record's title, the ready hold on
# it and its open loan with the borrower's category and card (as attributes named above).
COPY_AT_DESK = Prepared(Item, _copy_query, 2)


def _borrower_query(card, library):
    loans = Loan.alias()
    open_loans = loans.select(pw.fn.COUNT(loans.id)).where(
        (loans.patron == Patron.id) & loans.returned_at.is_null())
    return patrons.card_query(card, library).select(*_PATRON_FIELDS,
                                                    open_loans.alias("open_loans"))


# The patron at the desk with the number of loans they hold, in one statement.
BORROWER = Prepared(Patron, _borrower_query, 2)


def _borrower(ctx, card):
    patron = BORROWER.first((card or "").strip(), ctx.library)
    if patron is None:  # a card of another library of the town, or no card at all
        patron = patrons.find(ctx, card)
        patron.open_loans = len(patrons.open_loans(patron))
    return patron


def _copy(ctx, barcode):
    item = COPY_AT_DESK.first((barcode or "").strip(), ctx.library)
    return item if item is not None else get_item(ctx, barcode)  # its "not found" error


def _refuse(code, message, **params):
    raise Refused(code, message, **params)


def _check_patron(ctx, patron):
    for code, message, params in patrons.blocks(ctx, patron):
        _refuse(code, message, **params)


def _check_item(item, patron):
    """The ready hold on the copy, if it is this patron's; refuses what may not be lent."""
    if item.loan_id is not None:
        if item.loan_patron == patron.id:
            _refuse("already_on_loan", N_("%(barcode)s is already on loan to this patron."),
                    barcode=item.barcode)
        _refuse("item_on_loan", N_("%(barcode)s is on loan to someone else. Return it first."),
                barcode=item.barcode)
    if item.status in NOT_LOANABLE:
        _refuse("item_not_loanable", N_("%(barcode)s cannot be lent (it is %(status)s)."),
                barcode=item.barcode, status=item.status)
    if item.ready_hold_id and item.ready_hold_for != patron.id:
        _refuse("item_on_hold", N_("%(barcode)s is on hold for another patron."),
                barcode=item.barcode)
    return item.ready_hold_id


class _AskTheHub(Exception):
    """An away card and no verdict yet: asked outside the write lock, then lent."""

    def __init__(self, patron):
        super().__init__(patron.card)
        self.patron = patron


def checkout(ctx, card, barcode, actor=None, town=None):
    """Lend a copy. `town`: the hub's verdict on an away card (townwide.py), when the
    front end asked it already (the kiosk at sign-in). When not, it is asked with no
    lock held, so that other desks are not held up by the link."""
    try:
        return _checkout(ctx, card, barcode, actor, town)
    except _AskTheHub as need:
        return _checkout(ctx, card, barcode, actor, townwide.verify(ctx, need.patron))


@events.command
def _checkout(ctx, card, barcode, actor, town):
    patron = _borrower(ctx, card)
    _check_patron(ctx, patron)
    item = _copy(ctx, barcode)
    hold_id = _check_item(item, patron)
    rule, due = policy.loan_terms(item.library, patron.category, item.item_type,
                                  ctx.clock.today())
    if rule.loan_days <= 0:
        _refuse("item_not_loanable", N_("%(barcode)s cannot be lent (it is %(status)s)."),
                barcode=item.barcode, status=item.item_type)
    if patron.open_loans >= rule.max_loans:
        _refuse("loan_limit", N_("The patron already has %(count)s loans, the limit."),
                count=rule.max_loans)
    if townwide.away(ctx, patron):  # another library's card: its loans elsewhere count too
        if town is None:
            raise _AskTheHub(patron)
        townwide.check_loan(ctx, patron, rule, town)
    body = {"loan_id": new_id(), "item_id": item.id, "patron_id": patron.id,
            "library": item.library, "due_date": due.isoformat(), "at": ctx.clock.iso_now(),
            "hold_id": hold_id, "actor": actor}
    events.record(ctx, "loan.out", body, library=item.library)
    return {"loan_id": body["loan_id"], "due_date": body["due_date"], "item": item.barcode,
            "patron": patron.card, "title": title_of(item), "renewals_left": rule.max_renewals}


def _fee(rule, due_date, today):
    late = (today - date.fromisoformat(due_date)).days
    return max(0, late) * rule.fee_per_day


@events.command
def checkin(ctx, barcode, actor=None):
    item = _copy(ctx, barcode)
    if item.loan_id is None:
        if item.transit_to and item.library == ctx.library:  # home from a return elsewhere
            catalogue.received(ctx, item)
        return {"loan_id": None, "item": item.barcode, "title": title_of(item), "hold": None,
                "transit": None, "fee": 0, "was_on_loan": False}
    rule = policy.rule_for(item.library, item.borrower_category, item.item_type)
    today = ctx.clock.today()
    transit = item.library if item.library != ctx.library else None
    body = {"loan_id": item.loan_id, "item_id": item.id, "at": ctx.clock.iso_now(),
            "fee": _fee(rule, item.loan_due_date, today), "transit_to": transit,
            "actor": actor}
    with events.writing(ctx):
        events.record(ctx, "loan.in", body, library=item.library)
        if item.condition == "lost" and not transit:  # it was lost and is back: found
            records.save(ctx, "item.saved", Item, "id", item.id, {"condition": "available"},
                         library=item.library)
        hold = None if transit else holds.trap(ctx, item)
    return {"loan_id": item.loan_id, "item": item.barcode, "title": title_of(item),
            "patron": item.borrower_card, "fee": body["fee"], "transit": transit,
            "hold": hold, "was_on_loan": True,
            "overdue": item.loan_due_date < today.isoformat()}


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
