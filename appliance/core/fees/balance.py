"""What a patron owes, and whether it stops new loans: reckoned from the fees held here
each time, never a stored flag, so a block lifts the moment the fee is settled. What a
fee owes is its balance: its amount less what was paid and waived of it so far (its
FeePayment rows, fees/projection)."""

from typing import cast

import peewee as pw

from .. import policy
from ..errors import N_
from ..models import Fee, FeePayment, Library
from . import vnd
from .projection import WAIVER

# An open fee: charged (its charge has arrived) and not settled.
OPEN = (Fee.state == "open") & (Fee.charged_hlc > 0)
# What is still owed of the fee a query reads (of an open one: its sum of payments and
# waivers is below its amount), each read through the payments' index of their fee.
_TAKEN = FeePayment.select(pw.fn.COALESCE(pw.fn.SUM(FeePayment.amount), 0)).where(
    FeePayment.fee == Fee.id)
_BALANCE = Fee.amount - _TAKEN


def owed_query(patron_id):
    """What the patron owes in VND, as a subquery (the desk's borrower lookup asks it in
    the statement that reads the card)."""
    return Fee.select(pw.fn.COALESCE(pw.fn.SUM(_BALANCE), 0)).where(
        (Fee.patron == patron_id) & OPEN)


def owed(patron_id):
    """(what the patron owes in VND: the balances of their open fees, how many fees
    are open)."""
    total, count = (Fee.select(pw.fn.COALESCE(pw.fn.SUM(_BALANCE), 0), pw.fn.COUNT(Fee.id))
                    .where((Fee.patron == patron_id) & OPEN).tuples().first())
    return int(total or 0), int(count or 0)


def parts(fee_ids):
    """{fee id: (paid, waived)} so far, for the fees named."""
    if not fee_ids:
        return {}
    done: dict[str, list[int]] = {}
    rows = (FeePayment.select(FeePayment.fee, FeePayment.kind, pw.fn.SUM(FeePayment.amount))
            .where(FeePayment.fee << list(fee_ids))
            .group_by(FeePayment.fee, FeePayment.kind).tuples())
    for fee_id, kind, amount in cast("list[tuple[str, str, int]]", list(rows)):
        done.setdefault(fee_id, [0, 0])[kind == WAIVER] += int(amount or 0)
    return {fee_id: (paid, waived) for fee_id, (paid, waived) in done.items()}


def balance_of(fee, paid_waived=(0, 0)):
    """What is still owed of `fee`, given (paid, waived) of it: nothing once settled."""
    if fee.state != "open":
        return 0
    return max(0, fee.amount - sum(paid_waived))


def balances(fees):
    """{fee id: its balance} for `fees` (Fee rows)."""
    done = parts([fee.id for fee in fees])
    return {fee.id: balance_of(fee, done.get(fee.id, (0, 0))) for fee in fees}


def of_patron(patron_id):
    """Every fee of the patron, open ones first, newest first within each."""
    return list(Fee.select().where((Fee.patron == patron_id) & (Fee.charged_hlc > 0))
                .order_by(Fee.state != "open", Fee.charged_at.desc()))


def limit(library, category):
    """The balance above which a card of `category` borrows nothing at `library`."""
    return policy.rule_for(library, category, "*").fee_limit


def over_limit(library, patron):
    """(balance, limit, whether the balance is above it)."""
    total = getattr(patron, "fees_owed", None)
    if total is None:  # not read with the card (circulation.BORROWER)
        total, _ = owed(patron.id)
    most = limit(library, patron.category)
    return total, most, total > most


def elsewhere(library, patron_id):
    """What the patron owes other libraries of the town, as [(library name, VND)]: fees
    they charged reach the patron's home library (sync.receive.owed_at_home), where they
    count as its own but are paid at the library that charged them."""
    name = pw.fn.COALESCE(Library.name, Fee.library)
    rows = (Fee.select(name, pw.fn.SUM(_BALANCE))
            .join(Library, pw.JOIN.LEFT_OUTER, on=(Library.code == Fee.library))
            .where((Fee.patron == patron_id) & OPEN & (Fee.library != library))
            .group_by(Fee.library, Library.name).order_by(Fee.library).tuples())
    # .tuples() yields tuples; the stubs say models
    owed_to = cast("list[tuple[str, int]]", list(rows))
    return [(who, int(amount or 0)) for who, amount in owed_to]


def elsewhere_params(library, patron_id):
    """What the patron owes other libraries as a message's params, {"elsewhere": the
    amount written out, "libraries": their names}, or {} when nothing."""
    owed_to = elsewhere(library, patron_id)
    if not owed_to:
        return {}
    return {"elsewhere": vnd(sum(amount for _, amount in owed_to)),
            "libraries": ", ".join(name for name, _ in owed_to)}


def blocks(library, patron):
    """The fee block as patrons.blocks lists them: [(code, msgid, params)] or []. When
    some of it is owed to other libraries, the message says where, since this desk
    cannot take that payment."""
    total, most, over = over_limit(library, patron)
    if not over:
        return []
    params = {"amount": vnd(total), "limit": vnd(most)}
    owed_to = elsewhere_params(library, patron.id)
    if not owed_to:
        return [("fees_owed", N_("The patron owes %(amount)s in unpaid fees (the limit is "
                                 "%(limit)s): no new loans until they are paid."), params)]
    params.update(owed_to)
    return [("fees_owed", N_("The patron owes %(amount)s in unpaid fees (the limit is "
                             "%(limit)s), %(elsewhere)s of it to be paid at %(libraries)s: "
                             "no new loans until they are paid."), params)]
