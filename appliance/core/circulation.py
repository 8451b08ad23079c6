"""Checkout, checkin and renewal: validate against the rules, then record events."""

from datetime import date, timedelta

import peewee as pw

from . import catalogue, events, holds, patrons, policy, projector, records, townwide
from .catalogue import ITEM_BY_BARCODE, get_item, title_of
from .errors import N_, Refused
from .fees import commands as fee_charges
from .fees.balance import owed_query
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


def _borrower_query(card, library, today):
    def of_open_loans(aggregate, late=False):
        loans = Loan.alias()
        held = (loans.patron == Patron.id) & loans.returned_at.is_null()
        return loans.select(aggregate(loans)).where(
            held & (loans.due_date < today) if late else held)

    return patrons.card_query(card, library).select(
        *_PATRON_FIELDS,
        of_open_loans(lambda loans: pw.fn.COUNT(loans.id)).alias("open_loans"),
        of_open_loans(lambda loans: pw.fn.COUNT(loans.id), late=True).alias("late_loans"),
        of_open_loans(lambda loans: pw.fn.MIN(loans.due_date)).alias("first_due"),
        owed_query(Patron.id).alias("fees_owed"))


# The patron at the desk with the loans they hold and those overdue (their number, the
# earliest due date) and the fees they owe, for the limits and the blocks, in one
# statement.
BORROWER = Prepared(Patron, _borrower_query, 3)


def _borrower(ctx, card):
    """The patron, with `open_loans` and `overdue` (patrons.overdue's pair)."""
    patron = BORROWER.first((card or "").strip(), ctx.library, ctx.clock.today().isoformat())
    if patron is None:  # a card of another library of the town, or no card at all
        patron = patrons.find(ctx, card)
        loans = patrons.open_loans(patron)
        patron.open_loans = len(loans)
        patron.overdue = patrons.overdue(loans, ctx.clock.today())
        return patron
    late = patron.late_loans or 0
    patron.overdue = (late, patron.first_due if late else None)
    return patron


OWN_HOLD_FILLS = ("waiting", "in_transit")


def _lending_query(barcode, library, patron):
    own = Hold.alias()
    waiting = own.select(own.id).where(
        (own.patron == patron) & (own.bib == Item.bib) & (own.library == Item.library)
        & (own.status << OWN_HOLD_FILLS)).limit(1)
    return _copy_query(barcode, library).select_extend(waiting.alias("own_hold_id"))


# A copy about to be lent: the above, and a hold the borrower waits with for its record
# here (taking a copy off the shelf fills it, so it does not wait on for another copy;
# nor for the copy another library is sending for it, which goes home when it comes).
LENDING = Prepared(Item, _lending_query, 3)

# Another library's copy sent here for a hold, on this library's hold shelf.
SENT_HERE = Prepared(Item, lambda barcode, library: Item.select(Item.library).join(
    Hold, on=(Hold.item == Item.id)).where(
    (Item.barcode == barcode) & (Hold.library == library)  # (its own: found before)
    & (Hold.status == "ready")).order_by(Item.library).limit(1), 2)


def _copy(ctx, barcode, patron):
    barcode = (barcode or "").strip()
    item = LENDING.first(barcode, ctx.library, patron.id)
    if item is None:  # lent here only when it was sent here for a hold (holds.py)
        sent = SENT_HERE.first(barcode, ctx.library)
        item = LENDING.first(barcode, sent.library, patron.id) if sent is not None else None
    return item if item is not None else get_item(ctx, barcode)  # its "not found" error


def _refuse(code, message, **params):
    raise Refused(code, message, **params)


def _check_patron(ctx, patron, overdue=None):
    for code, message, params in patrons.blocks(ctx, patron, overdue):
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


def checkout(ctx, card, barcode, actor=None, town=None, by_post=None):
    """Lend a copy. `town`: the hub's verdict on an away card (townwide.py), when the
    front end asked it already (the kiosk at sign-in). When not, it is asked with no
    lock held, so that other desks are not held up by the link. `by_post`: the request
    (core/requests) of a copy sent by post, whose loan runs the rule's postal days
    longer."""
    try:
        return _checkout(ctx, card, barcode, actor, town, by_post)
    except _AskTheHub as need:
        return _checkout(ctx, card, barcode, actor, townwide.verify(ctx, need.patron),
                         by_post)


@events.command
def _checkout(ctx, card, barcode, actor, town, by_post=None):
    patron = _borrower(ctx, card)
    _check_patron(ctx, patron, patron.overdue)
    item = _copy(ctx, barcode, patron)
    hold_id = _check_item(item, patron) or item.own_hold_id
    pickup = item.library != ctx.library and ctx.role != "hub"
    # a copy sent here for a hold is lent by this library's rules, on its calendar
    rule, due = policy.loan_terms(ctx.library if pickup else item.library, patron.category,
                                  item.item_type, ctx.clock.today())
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
    if pickup:  # sent here for that hold: its loan's events reach this library too
        body["pickup"] = ctx.library
    if by_post:  # the post takes days each way: they are the patron's on top
        body["by_post"] = by_post
        body["due_date"] = policy.due_date(item.library, ctx.clock.today(),
                                           rule.loan_days + rule.postal_days).isoformat()
    # the copy was read above with no open loan: the projector need not look again
    events.record(ctx, "loan.out", body, library=item.library,
                  io=projector.lent_here(item.barcode))
    if hold_id is not None and hold_id == item.own_hold_id:  # off the shelf, not sent
        holds.filled_here(ctx, hold_id, item)
    return {"loan_id": body["loan_id"], "due_date": body["due_date"], "item": item.barcode,
            "patron": patron.card, "title": title_of(item), "renewals_left": rule.max_renewals}


def _fee(rule, due_date, today):
    late = (today - date.fromisoformat(due_date)).days
    return max(0, late) * rule.fee_per_day


def _returning_query(barcode, library):
    waiting = Hold.alias()
    return _copy_query(barcode, library).select_extend(pw.fn.EXISTS(
        waiting.select(waiting.id).where((waiting.bib == Item.bib) & (waiting.library == Item.library)
                                         & (waiting.status == "waiting"))).alias("hold_waits"))


# A copy handed in: COPY_AT_DESK's, and whether a hold waits for its record here (the
# return sets nothing aside otherwise, and asks no more).
RETURNING = Prepared(Item, _returning_query, 2)

ELSEWHERE = Prepared(Item, lambda barcode, library: Item.select(Item.library).where(
    (Item.barcode == barcode) & (Item.library != library)).order_by(Item.library).limit(2), 2)


def _returned_copy(ctx, barcode):
    """The copy handed in: this library's, else another library's of the town (a branch
    holds every library's copies, not their loans), with its open loan if held here."""
    barcode = (barcode or "").strip()
    item = RETURNING.first(barcode, ctx.library)
    if item is not None:
        return item
    homes = [row.library for row in ELSEWHERE.all(barcode, ctx.library)]
    if len(homes) > 1:
        _refuse("barcode_in_many_libraries", N_(
            "Barcode %(barcode)s is on copies of several libraries: look at the label to see "
            "which, and return it there."), barcode=barcode)
    return RETURNING.first(barcode, homes[0]) if homes else get_item(ctx, barcode)


@events.command
def checkin(ctx, barcode, actor=None, at_desk=False):
    """A copy handed in. `at_desk`: staff scanned it at the desk, where a copy on the
    open shelf that a waiting hold can take goes to the hold shelf (the pull list)."""
    item = _returned_copy(ctx, barcode)
    if item.loan_id is not None:
        return _close_loan(ctx, item, actor)
    if item.library != ctx.library and ctx.role != "hub":
        hold = holds.arriving_for(ctx, item) if item.ready_hold_id is None else None
        if hold is not None:  # sent here for a hold: one scan puts it on the hold shelf
            return _arrived(ctx, item, hold)
        if item.ready_hold_id is not None:
            return _result(item, on_hold_shelf=True)
        ended = holds.ended_for(ctx, item) if item.transit_to != item.library else None
        if ended is not None:  # came for a hold that ended before it arrived: back home
            return _result(item, **holds.send_home(ctx, item, ended))
        return _away_return(ctx, item, actor)
    result = {"loan_id": None, "item": item.barcode, "title": title_of(item), "hold": None,
              "transit": None, "fee": 0, "was_on_loan": False}
    with events.writing(ctx):
        if item.transit_to and item.library == ctx.library:  # home from a return elsewhere
            catalogue.received(ctx, item)
            result["received"] = True
        if item.ready_hold_id is not None:
            result["on_hold_shelf"] = True
        elif (at_desk or result.get("received")) and item.condition == "available":
            result["hold"] = holds.trap(ctx, item)
    return result


def _result(item, **more):
    return {"loan_id": None, "item": item.barcode, "title": title_of(item), "hold": None,
            "transit": None, "fee": 0, "was_on_loan": False, **more}


def _arrived(ctx, item, hold):
    return _result(item, arrived=item.library, hold=holds.receive(ctx, item, hold))


def _close_loan(ctx, item, actor):
    rule = policy.rule_for(item.library, item.borrower_category, item.item_type)
    today = ctx.clock.today()
    transit = item.library if item.library != ctx.library else None
    # a copy declared lost is late only until then: its lost charge stands in after
    late = item.loan_due_date < today.isoformat()
    lost_on = fee_charges.lost_on(item.loan_id) if late else None
    late_until = min(today, lost_on) if lost_on else today
    body = {"loan_id": item.loan_id, "item_id": item.id, "at": ctx.clock.iso_now(),
            "fee": _fee(rule, item.loan_due_date, late_until), "transit_to": transit,
            "actor": actor}
    with events.writing(ctx):
        events.record(ctx, "loan.in", body, library=item.library)
        # the late return's fee becomes a fee the patron owes, in this same transaction
        charged = fee_charges.charge_overdue(ctx, item, body["fee"], actor)
        if item.condition == "lost" and not transit:  # it was lost and is back: found
            records.save(ctx, "item.saved", Item, "id", item.id, {"condition": "available"},
                         library=item.library)
        hold = holds.trap(ctx, item) if item.hold_waits and not transit else None
    return {"loan_id": item.loan_id, "item": item.barcode, "title": title_of(item),
            "patron": item.borrower_card, "fee": body["fee"], "fee_id": charged,
            "transit": transit, "hold": hold, "was_on_loan": True,
            "overdue": late, "lost_on": lost_on.isoformat() if lost_on else None}


def _away_return(ctx, item, actor):
    """Another library's copy handed in here. Its loan is held at its home library and
    the hub, not here: the return names the copy, not the loan (`away`), and is routed
    to the copy's library, where it closes the loan that stands (or, arriving before
    that loan, the loan comes in closed: projector.loan_out). The copy travels home.
    No fee is reckoned here, where the due date is not known, and none is charged: the
    copy's library applies this return without reckoning one (docs/circulation.md,
    "Overdue fees")."""
    result = {"loan_id": None, "item": item.barcode, "title": title_of(item), "hold": None,
              "transit": item.library, "fee": 0, "was_on_loan": True, "away": True}
    if item.transit_to == item.library:  # taken here already, waiting for the van
        result["was_on_loan"] = False
        return result
    events.record(ctx, "loan.in", {"loan_id": None, "item_id": item.id, "away": True,
                                   "at": ctx.clock.iso_now(), "fee": 0,
                                   "transit_to": item.library, "actor": actor},
                  library=item.library)
    return result


# The copy of an open loan this library made of another library's copy, sent here for a
# hold (`Loan.pickup`): renewed here as it was lent here.
PICKED_UP = Prepared(Item, lambda barcode, library: Item.select().join(
    Loan, on=(Loan.item == Item.id)).where(
    (Item.barcode == barcode) & (Loan.pickup == library) & Loan.returned_at.is_null())
    .order_by(Item.library).limit(1), 2)


def _renewing(ctx, barcode):
    """(copy, its open loan or None): this library's copy, else the copy of a loan made
    here for a hold (another library's, as checkout lends it: `_copy`)."""
    barcode = (barcode or "").strip()
    item = ITEM_BY_BARCODE.first(barcode, ctx.library)
    loan = OPEN_LOAN.first(item.id) if item is not None else None
    if loan is None and ctx.role != "hub":
        picked = PICKED_UP.first(barcode, ctx.library)
        if picked is not None:
            item, loan = picked, OPEN_LOAN.first(picked.id)
    return (item if item is not None else get_item(ctx, barcode)), loan


def lent_by(loan):
    """The library whose rules and calendar a loan is on: the one that lent it (a copy
    sent to a pickup library for a hold is lent there, on its rules)."""
    return loan.pickup or loan.library


@events.command
def renew(ctx, barcode, actor=None, patron_card=None):
    item, loan = _renewing(ctx, barcode)
    if loan is None:
        _refuse("not_on_loan", N_("%(barcode)s is not on loan."), barcode=item.barcode)
    lender = lent_by(loan)
    if lender != ctx.library and ctx.role != "hub":
        # its rules are held where it was lent (and at the hub), not at the copy's home
        _refuse("renew_where_lent", N_("%(barcode)s was lent at library %(library)s for a "
                                       "hold: renew it there."),
                barcode=item.barcode, library=lender)
    patron = by_key(Patron, "id").first(loan.patron_id)
    if patron_card is not None and patron.card != patron_card:
        _refuse("not_your_loan", N_("%(barcode)s is not on loan to you."), barcode=item.barcode)
    _check_patron(ctx, patron)
    rule = policy.rule_for(lender, patron.category, item.item_type)
    if loan.renewals >= rule.max_renewals:
        _refuse("renewal_limit", N_("%(barcode)s has been renewed %(count)s times, the limit."),
                barcode=item.barcode, count=rule.max_renewals)
    if _someone_waits(item):
        _refuse("item_on_hold", N_("%(barcode)s is on hold for another patron."),
                barcode=item.barcode)
    due = _renewed_due(ctx, item, loan, rule, lender)
    events.record(ctx, "loan.renew", {"loan_id": loan.id, "due_date": due.isoformat(),
                                      "max_renewals": rule.max_renewals, "actor": actor},
                  library=item.library)
    return {"loan_id": loan.id, "item": item.barcode, "title": title_of(item),
            "due_date": due.isoformat(),
            "renewals_left": rule.max_renewals - loan.renewals - 1}


def _renewed_due(ctx, item, loan, rule, lender):
    """The due date a renewal today gives, or a refusal: a renewal that would not move
    the date would use up a renewal for nothing, and the rule may open renewals only in
    the last days of a loan."""
    today, held = ctx.clock.today(), date.fromisoformat(loan.due_date)
    opens = held - timedelta(days=rule.renew_window_days)
    if rule.renew_window_days and today < opens:
        _refuse("renew_too_early", N_("%(barcode)s can be renewed from %(date)s, %(days)s "
                                      "days before it is due."),
                barcode=item.barcode, date=opens.strftime("%d/%m/%Y"), days=rule.renew_window_days)
    due = policy.due_date(lender, today, rule.loan_days)
    if due <= held:
        _refuse("renew_too_early", N_("%(barcode)s is due on %(date)s already: renewing now "
                                      "would not move the date. Renew it later."),
                barcode=item.barcode, date=held.strftime("%d/%m/%Y"))
    return due


def _someone_waits(item):
    """Whether a hold waiting here needs this copy back: more holds wait for its record
    than copies of it stand on the shelf to fill them (those are pulled, not recalled)."""
    waiting = holds.waiting_count(item.bib_id, item.library)
    return waiting > 0 and waiting > holds.shelf_count(item.bib_id, item.library)


def renewals_left(loan, category, item_type):
    """How many more times a loan may be renewed (0: the desk, OPAC and kiosk offer no
    renewal)."""
    rule = policy.rule_for(lent_by(loan), category, item_type)
    return max(0, rule.max_renewals - loan.renewals)
