"""The rights commands: erase a patron (erasure.py says what it does to the log).

A card may be erased once its holder owes nothing: `OWES` holds the checks, each a
function (ctx, patron) -> list of (code, message, params); another part (fees) adds its
own to it."""

from .. import events
from ..errors import N_, Invalid
from ..models import Hold
from . import erasure


def _open_loans(ctx, patron):
    from ..patrons import open_loans

    count = len(open_loans(patron))
    if count:
        return [("erase_open_loans", N_("%(card)s still has %(count)s copies on loan: they "
                                        "are returned before the card is erased."),
                 {"card": patron.card, "count": count})]
    return []


def _open_fees(ctx, patron):
    from ..fees import balance, vnd

    total, count = balance.owed(patron.id)
    if count:
        return [("erase_open_fees", N_("%(card)s still owes %(amount)s in %(count)s fees: "
                                       "they are paid or waived before the card is erased."),
                 {"card": patron.card, "amount": vnd(total), "count": count})]
    return []


OWES = [_open_loans, _open_fees]
ERASED = N_("Card %(card)s is erased.")


def owes(ctx, patron):
    """Why the patron may not be erased yet: a list of (code, message, params)."""
    return [reason for check in OWES for reason in check(ctx, patron)]


@events.command
def erase(ctx, card):
    """Erase a patron of this library (patrons._own: only the home library may)."""
    from .. import holds, patrons

    patron = patrons._own(ctx, card)
    reasons = owes(ctx, patron)
    if reasons:
        code, message, params = reasons[0]
        raise Invalid(code, message, **params)
    for hold in Hold.select().where((Hold.patron == patron.id) & (Hold.status << (
            "waiting", "in_transit", "ready"))):
        holds.cancel(ctx, hold.id, patron.card)
    events.record(ctx, "patron.erased", {"patron_id": patron.id, "at": ctx.clock.iso_now(),
                                         "category": patron.category},
                  library=patron.library)
    erasure.shred([patron.id])
    return patron


