"""The fee commands: declare a copy on loan lost or damaged (charging its borrower),
take a payment (of the whole balance or a part of it), waive what is left of a fee.
Each validates and records under the write lock. A late return charges its overdue fee
too (`charge_overdue`, from circulation's return)."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from .. import authority, catalogue, circulation, events, policy
from ..clock import LIBRARY_TZ
from ..errors import N_, Forbidden, Invalid, NotFound, Refused
from ..models import Fee, FeePayment, Item, Patron
from . import balance, vnd
from .projection import PAYMENT

DECLARED = ("lost", "damaged")  # what staff declare of a copy on loan
KINDS = (*DECLARED, "overdue")  # every kind of fee: "overdue" a late return charges
TRANSACTION_ID = 64  # characters of a machine's own id of a payment kept (FeePayment)
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
def declare(ctx, barcode, kind, actor=None, library=None, item_id=None):
    """A copy on loan declared lost (its loan stays open until it is found) or damaged
    (handed back: its loan ends); its borrower is charged the replacement. `library` or
    `item_id` says which copy when libraries share the barcode (at the hub)."""
    if kind not in DECLARED:
        raise Invalid("bad_fee_kind", N_("A copy is declared lost or damaged."))
    item = _declared_copy(ctx, barcode, library, item_id)
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


def _declared_copy(ctx, barcode, library, item_id):
    """The copy named by its id, or its barcode and library; by its barcode alone at a
    branch (its own copy first, as a return finds it), and at the hub only when one
    library has a copy of that barcode: the hub holds every library's copies, and
    barcodes are unique only within a library."""
    if item_id:
        named = Item.get_or_none(Item.id == item_id)
        if named is None:
            raise NotFound("item_not_found", N_("No copy has barcode %(barcode)s."),
                           barcode=item_id)
        barcode, library = named.barcode, named.library
    barcode = (barcode or "").strip()
    if not library and ctx.role == "hub":
        holders = [row.library for row in Item.select(Item.library).where(
            Item.barcode == barcode).distinct().order_by(Item.library)]
        if len(holders) > 1:
            raise Refused("barcode_in_many_libraries", N_(
                "Barcode %(barcode)s is on copies of several libraries (%(libraries)s): say "
                "which library's copy it is."), barcode=barcode, libraries=", ".join(holders))
        library = holders[0] if holders else None
    if not library:
        return circulation._returned_copy(ctx, barcode)
    item = circulation.RETURNING.first(barcode, library)
    if item is None:
        raise NotFound("item_not_found_at", N_("Library %(library)s has no copy with barcode "
                                               "%(barcode)s."), library=library,
                       barcode=barcode)
    return item


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


def _settle(ctx, kind, fee, actor, amount, reason=None, transaction=None):
    """Record a payment or waiver of `amount` of `fee`, taken at this library (or the
    hub): fees/projection keeps each as a FeePayment row and settles the fee when they
    reach its amount."""
    body = {"fee_id": fee.id, "library": fee.library, "patron_id": fee.patron,
            "amount": int(amount), "at": ctx.clock.iso_now(), "actor": actor,
            "taken_at_library": ctx.library}
    if reason is not None:
        body["reason"] = reason
    if transaction:
        body["transaction"] = transaction
    events.record(ctx, kind, body, library=fee.library)
    return get(ctx, fee.id)


def owing(fee):
    """What is still owed of `fee`."""
    return balance.balances([fee])[fee.id]


@events.command
def pay(ctx, the_id, actor=None, amount=None):
    """A payment at the desk: the whole balance of the fee, or `amount` of it (a part:
    the fee stays open for the rest). More than the balance is refused."""
    fee = _open(ctx, the_id)
    owed = owing(fee)
    amount = owed if amount is None else _checked(amount, owed)
    return _settle(ctx, "fee.paid", fee, actor, amount)


@events.command
def waive(ctx, the_id, reason, actor=None):
    """What is left of the fee forgiven, for a reason staff give (the copy was found, a
    hardship...); what was paid of it stays paid."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("reason_required", N_("Say why the fee is waived."))
    if len(reason) > 255:
        raise Invalid("too_long", N_("%(text)s… is too long: at most %(limit)s characters."),
                      text=reason[:20], limit=255)
    fee = _open(ctx, the_id)
    return _settle(ctx, "fee.waived", fee, actor, owing(fee), reason)


@dataclass
class Payment:
    """What a machine's payment paid: `amount` in all, over `fees`; `again` when it was
    taken before (the same transaction id from the same machine) and nothing more was
    paid now."""
    amount: int
    fees: list = field(default_factory=list)
    again: bool = False


@events.command
def pay_amount(ctx, patron, amount, the_id=None, actor=None, transaction=None):
    """A payment from a machine (SIP2 37): to one fee named by its id, or to the
    patron's open fees of this library, oldest first; all of it or a part, never more
    than is owed. `transaction`, the machine's own id of the payment (SIP2 BK), is kept
    with it: the same id again from the same machine (`actor`) is that payment sent
    again, whatever connection or restart came between, and pays nothing more."""
    transaction = (transaction or "").strip()[:TRANSACTION_ID] or None
    if transaction and actor:
        earlier = _taken(patron, actor, transaction)
        if earlier is not None:
            return earlier
    if the_id:
        fees = [_open(ctx, the_id)]
        if fees[0].patron != patron.id:
            raise NotFound("fee_not_found", N_("No fee %(id)s here."), id=the_id)
    else:
        fees = sorted((f for f in balance.of_patron(patron.id) if f.state == "open"
                       and settled_here(ctx, f)), key=lambda f: (f.charged_hlc, f.id))
    if not fees:
        raise Refused("nothing_owed", N_("The patron owes no fee here."))
    owing = balance.balances(fees)
    left = _checked(amount, sum(owing.values()))
    paid = []
    for fee in fees:
        part = min(left, owing[fee.id])
        if part > 0:
            paid.append(_settle(ctx, "fee.paid", fee, actor, part, transaction=transaction))
            left -= part
    return Payment(int(amount), paid)


def _taken(patron, actor, transaction):
    """The payment `actor` recorded as `transaction` for `patron`, or None."""
    parts = list(FeePayment.select(FeePayment.fee, FeePayment.amount)
                 .join(Fee, on=(FeePayment.fee == Fee.id))
                 .where((Fee.patron == patron.id) & (FeePayment.kind == PAYMENT)
                        & (FeePayment.actor == actor)
                        & (FeePayment.transaction == transaction)))
    if not parts:
        return None
    fees = list(Fee.select().where(Fee.id << {p.fee_id for p in parts}))
    return Payment(sum(p.amount for p in parts), fees, again=True)


def _checked(amount, owing):
    """`amount` as whole đồng, refused when it is not above 0 or is above `owing`."""
    try:
        amount = int(amount)
    except (TypeError, ValueError):
        amount = 0
    if amount <= 0:
        raise Invalid("bad_amount", N_("The amount must be a whole number of đồng above 0."))
    if amount > owing:
        raise Refused("over_balance", N_("%(amount)s is more than is owed: the balance is "
                                         "%(balance)s."), amount=vnd(amount),
                      balance=vnd(owing))
    return amount


def patron_of(fee):
    return Patron.get_or_none(Patron.id == fee.patron)
