"""A town-wide card away from home: checked at the hub when the link is up, lent on the
card alone under a lower limit when it is not.

A branch holds another library's card without its PIN hash (privacy.py) and without the
loans it holds elsewhere (other libraries' loans stay at the hub). So the hub, which
holds both, answers for it: the PIN when one is given, the card's blocks as they stand,
and its open loans in the whole town. Sync puts the function that asks it in `ask` (core
opens no sockets); with no link, no enrolment or no answer in time the card is lent on
its own, at most `policies.away_offline_max_loans` items (a setting the town's
config bundle carries), and the refusal says why in the reader's language.

A verdict is a plain dict (it rides in the kiosk's session): ``verified``, and when
verified ``elsewhere`` (the card's open loans the hub knows at other libraries: this
branch counts its own, so loans made here since the hub was asked count too) and
``patron`` (the card's lending fields as the hub holds them).
"""

from __future__ import annotations

import logging

from . import passwords
from .errors import N_, Forbidden, NotFound, Refused
from .findkeys import card_key
from .models import Loan, Patron, PinAttempt
from .privacy import LENDING_FIELDS

log = logging.getLogger(__name__)

OFFLINE_MAX_LOANS = 2  # the default of the `away_offline_max_loans` setting
ask = None  # set by sync: (ctx, card, library, pin) -> the hub's answer; raises Unreachable


class Unreachable(Exception):
    """The hub did not answer (no link, not enrolled, refused, too slow)."""


def away(ctx, patron) -> bool:
    """A card this device cannot fully check: another library's, at a branch."""
    return bool(patron.library != ctx.library and ctx.role != "hub")


def offline_max(ctx) -> int:
    """`policies.away_offline_max_loans` of settings.json: a section the hub's signed
    config bundle may set for the whole town, a library or one device."""
    policies = ctx.settings.get("policies")
    value = (policies if isinstance(policies, dict) else {}).get("away_offline_max_loans")
    try:
        return max(0, int(OFFLINE_MAX_LOANS if value is None else value))
    except (TypeError, ValueError):
        return OFFLINE_MAX_LOANS


def verify(ctx, patron, pin=None) -> dict:
    """The hub's word on an away card (and its PIN, when given): a verdict. Raises
    Forbidden when the hub says the PIN is wrong or locked, NotFound when it knows no
    such card; gives an unverified verdict when the hub cannot be asked."""
    if ask is None:
        return {"verified": False}
    try:
        said = ask(ctx, patron.card, patron.library, pin)
    except Unreachable as exc:
        log.info("town card %s/%s not checked at the hub: %s", patron.library, patron.card, exc)
        return {"verified": False}
    if not said.get("ok"):
        code = said.get("code")
        if code == "pin_locked":
            raise Forbidden("pin_locked", N_("Too many wrong PINs. Try again later or ask staff."))
        if code == "pin_wrong":
            raise Forbidden("pin_wrong", N_("The PIN is not right."))
        raise NotFound("patron_not_found", N_("No patron has card %(card)s."), card=patron.card)
    return {"verified": True, "elsewhere": int(said.get("elsewhere") or 0),
            "patron": {k: v for k, v in (said.get("patron") or {}).items()
                       if k in LENDING_FIELDS}}


def sign_in(ctx, card, pin, card_alone=True):
    """(patron, verdict) for a patron who gives card and PIN (kiosk, SIP2, OPAC). A home
    card's PIN is checked here; an away card's at the hub, or, when the hub cannot be
    asked and `card_alone` allows it, not at all (the verdict says so: lower limit)."""
    from . import patrons

    patron = patrons.find(ctx, card)
    if not away(ctx, patron):
        return patrons.verify_pin(ctx, card, pin), {"verified": True, "home": True}
    verdict = verify(ctx, patron, str(pin or ""))
    if not verdict["verified"] and not card_alone:
        raise Refused("hub_unreachable", N_("This card belongs to library %(library)s and "
                                            "its PIN can only be checked there or at the "
                                            "town hub, which cannot be reached now. Try "
                                            "again later."), library=patron.library)
    return patron, verdict


def check_loan(ctx, patron, rule, verdict) -> None:
    """Refuse a loan to an away card past what the verdict allows: the town-wide count
    against the rule when the hub answered, the lower offline limit when it did not."""
    if verdict.get("home"):
        return
    if not verdict.get("verified"):
        limit = min(rule.max_loans, offline_max(ctx))
        if patron.open_loans >= limit:
            raise Refused("away_offline_limit", OFFLINE_LIMIT_MESSAGE,
                          library=patron.library, count=limit)
        return
    fresh = verdict.get("patron") or {}
    if fresh.get("blocked"):
        raise Refused("patron_blocked", N_("The card is blocked: %(reason)s"),
                      reason=fresh.get("block_reason") or "")
    if fresh.get("expiry") and fresh["expiry"] < ctx.clock.today().isoformat():
        raise Refused("patron_expired", N_("The card expired on %(date)s."),
                      date=fresh["expiry"])
    if verdict.get("elsewhere", 0) + patron.open_loans >= rule.max_loans:
        raise Refused("loan_limit", N_("The patron already has %(count)s loans, the limit."),
                      count=rule.max_loans)


OFFLINE_LIMIT_MESSAGE = N_(
    "This card belongs to library %(library)s and the town hub cannot be reached to check "
    "it, so it may borrow at most %(count)s items here until the link is back.")


def offline_notice(ctx, patron, verdict):
    """(msgid, params) that tells an away reader why the limit is lower now, or None."""
    if verdict.get("verified") or verdict.get("home") or not away(ctx, patron):
        return None
    return OFFLINE_LIMIT_MESSAGE, {"library": patron.library, "count": offline_max(ctx)}


# The hub's side: the answer to a branch that asks about a card.

def answer(ctx, card, library, pin=None, asking=None) -> dict:
    """What the hub says about a card of `library` (and a PIN, when given) to a branch of
    library `asking`: the lending fields and the card's open loans at every other
    library (the branch holds its own), or why not."""
    patron = Patron.get_or_none((Patron.card_key == card_key(card)) & (Patron.library == library)
                                & ~Patron.deleted)
    if patron is None:
        return {"ok": False, "code": "patron_not_found"}
    if pin is not None:
        attempt, _ = PinAttempt.get_or_create(card=f"{patron.library}|{patron.card}")
        if passwords.locked(attempt):
            return {"ok": False, "code": "pin_locked"}
        if not patron.pin_hash or not passwords.check_secret(str(pin), patron.pin_hash):
            passwords.register_failure(attempt)
            return {"ok": False, "code": "pin_wrong"}
        passwords.register_success(attempt)
    elsewhere = Loan.select().where((Loan.patron == patron.id) & Loan.returned_at.is_null()
                                    & (Loan.library != asking)).count()
    return {"ok": True, "pin_checked": pin is not None, "elsewhere": elsewhere,
            "patron": {k: getattr(patron, k) for k in sorted(LENDING_FIELDS)}}
