"""The fee commands: declare a copy on loan lost or damaged (charging its borrower),
take a payment, waive a fee. Each validates and records under the write lock. A late
return charges its overdue fee too (`charge_overdue`, from circulation's return)."""

import uuid
from datetime import datetime

from .. import authority, catalogue, circulation, events, policy
from ..clock import LIBRARY_TZ
from ..errors import N_, Forbidden, Invalid, NotFound, Refused
from ..models import Fee, Patron
from . import balance, vnd

DECLARED = ("lost", "damaged")  # what staff declare of a copy on loan
KINDS = (*DECLARED, "overdue")  # every kind of fee: "overdue" a late return charges
_NS = uuid.UUID("5f0c2a51-7e1d-4c39-9b8e-70686920626f")


def fee_id(loan_id, kind):
    """One fee per loan and kind: two desks declaring the same loss charge once."""
    return str(uuid.uuid5(_NS, f"{loan_id}|{kind}"))


def _amount(item):
    if item.price:
        return int(item.price)
    rule = policy.rule_for(item.library, item.borrower_category, item.item_type)
    if not rule.replacement_fee:
        raise Refused("no_price", N_("%(barcode)s has no price and the loan rules set no "
                                     "replacement charge: record the copy's price first."),
                      barcode=item.barcode)
    return int(rule.replacement_fee)


@events.command
def declare(ctx, barcode, kind, actor=None):
    """A copy on loan declared lost (its loan stays open until it is found) or damaged
    (handed back: its loan ends); its borrower is charged the replacement."""
    if kind not in DECLARED:
        raise Invalid("bad_fee_kind", N_("A copy is declared lost or damaged."))
    item = circulation._returned_copy(ctx, barcode)
    authority.require_own(ctx, item.library, "copy", barcode=item.barcode)
    if item.loan_id is None:
        raise Refused("not_on_loan", N_("%(barcode)s is not on loan."), barcode=item.barcode)
    the_id = fee_id(item.loan_id, kind)
    if Fee.get_or_none((Fee.id == the_id) & (Fee.charged_hlc > 0)) is not None:
        raise Refused("fee_charged", N_("This loss or damage of %(barcode)s was charged "
                                        "already."), barcode=item.barcode)
    body = {"fee_id": the_id, "library": item.library, "patron_id": item.loan_patron,
            "item_id": item.id, "loan_id": item.loan_id, "kind": kind,
            "amount": _amount(item), "at": ctx.clock.iso_now(), "actor": actor}
    if kind == "lost":
        if item.condition != "lost":
            catalogue.save_item(ctx, {"id": item.id, "condition": "lost"})
    else:
        item.hold_waits = False  # a damaged copy fills no hold: it is not put on the shelf
        circulation._close_loan(ctx, item, actor)
        catalogue.save_item(ctx, {"id": item.id, "condition": "damaged"})
    events.record(ctx, "fee.charged", body, library=item.library)
    return get(ctx, the_id)


def charge_overdue(ctx, item, amount, actor):
    """The overdue fee of a late return, recorded in the return's transaction: charged
    by the copy's library (or the hub) when it closes its own loan; its id comes from
    the loan, so two desks returning one loan charge once. Another library closing the
    loan (a copy lent there for a hold) charges nothing: only the copy's library charges
    for it (rules.charged)."""
    if amount <= 0 or (ctx.role != "hub" and item.library != ctx.library):
        return None
    the_id = fee_id(item.loan_id, "overdue")
    if Fee.get_or_none((Fee.id == the_id) & (Fee.charged_hlc > 0)) is not None:
        return None
    events.record(ctx, "fee.charged", {
        "fee_id": the_id, "library": item.library, "patron_id": item.loan_patron,
        "item_id": item.id, "loan_id": item.loan_id, "kind": "overdue", "amount": int(amount),
        "at": ctx.clock.iso_now(), "actor": actor}, library=item.library)
    return the_id


def lost_on(loan_id):
    """The day, on the library's calendar, the copy of `loan_id` was declared lost (its
    borrower charged for it), or None. From that day the lost charge stands in for
    lateness: a late return counts its days late up to it and no further."""
    fee = Fee.get_or_none((Fee.id == fee_id(loan_id, "lost")) & (Fee.charged_hlc > 0))
    if fee is None:
        return None
    return datetime.fromisoformat(fee.charged_at).astimezone(LIBRARY_TZ).date()


def get(ctx, the_id):
    fee = Fee.get_or_none((Fee.id == (the_id or "")) & (Fee.charged_hlc > 0))
    if fee is None:
        raise NotFound("fee_not_found", N_("No fee %(id)s here."), id=the_id or "")
    return fee


def settled_here(ctx, fee):
    """Whether this device may take the payment of `fee` or waive it: only the library
    that charged it may (the till and the receipt are there), or the hub, which acts for
    the town. A patron's home library holds the fees others charged but sends them there."""
    return ctx.role == "hub" or fee.library == ctx.library


def _open(ctx, the_id):
    fee = get(ctx, the_id)
    if not settled_here(ctx, fee):
        raise Forbidden("other_library", N_("This fee was charged by library %(library)s: "
                                            "it is paid or waived there."),
                        library=fee.library)
    if fee.state != "open":
        raise Refused("fee_settled", N_("This fee is settled already."))
    return fee


def _settle(ctx, kind, fee, actor, reason=None):
    body = {"fee_id": fee.id, "library": fee.library, "patron_id": fee.patron,
            "amount": fee.amount, "at": ctx.clock.iso_now(), "actor": actor}
    if reason is not None:
        body["reason"] = reason
    events.record(ctx, kind, body, library=fee.library)
    return get(ctx, fee.id)


@events.command
def pay(ctx, the_id, actor=None, amount=None):
    """The whole fee paid at the desk. `amount`, when a program says what it took, must
    be the whole fee: a fee is settled in full or not at all."""
    fee = _open(ctx, the_id)
    if amount is not None:
        _whole([fee], amount)
    return _settle(ctx, "fee.paid", fee, actor)


@events.command
def waive(ctx, the_id, reason, actor=None):
    """The fee forgiven, for a reason staff give (the copy was found, a hardship...)."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("reason_required", N_("Say why the fee is waived."))
    if len(reason) > 255:
        raise Invalid("too_long", N_("%(text)s… is too long: at most %(limit)s characters."),
                      text=reason[:20], limit=255)
    return _settle(ctx, "fee.waived", _open(ctx, the_id), actor, reason)


@events.command
def pay_amount(ctx, patron, amount, the_id=None, actor=None):
    """A payment from a machine (SIP2 37): one fee named by its id, or all the patron's
    open fees of this library, in full; an amount that does not match is refused."""
    if the_id:
        fees = [_open(ctx, the_id)]
        if fees[0].patron != patron.id:
            raise NotFound("fee_not_found", N_("No fee %(id)s here."), id=the_id)
    else:
        fees = [f for f in balance.of_patron(patron.id) if f.state == "open"
                and settled_here(ctx, f)]
    if not fees:
        raise Refused("nothing_owed", N_("The patron owes no fee here."))
    _whole(fees, amount)
    return [_settle(ctx, "fee.paid", f, actor) for f in fees]


def _whole(fees, amount):
    """Refuse a payment that is not the whole of `fees`, saying what is due."""
    due = sum(f.amount for f in fees)
    if int(amount) != due:
        raise Refused("wrong_amount", N_("The amount paid must be the whole fee: %(amount)s."),
                      amount=vnd(due))


def patron_of(fee):
    return Patron.get_or_none(Patron.id == fee.patron)
