"""Patrons: register, edit, block, PINs. Only what circulation needs is collected
(personal data law): name, card, category, expiry, a contact, and a guardian with
consent for children."""

import re
from datetime import date

import peewee as pw

from . import authority, events, passwords, policy, records
from .errors import N_, Forbidden, Invalid, NotFound
from .fees import balance as fee_balance
from .findkeys import card_key, words_of
from .ids import new_id
from .models import Loan, Patron, PinAttempt
from .policy import CATEGORIES
from .prepared import Prepared

CARD_RE = re.compile(r"^[A-Za-z0-9-]{3,32}$")


def _typed(card):
    """A card as typed, made its key in SQL (findkeys.card_key: no surrounding spaces, any
    case), so that every query built on `card_query` matches it whoever calls it. Cards
    are ASCII (CARD_RE), where SQLite's and PostgreSQL's UPPER agree with Python's."""
    return pw.fn.UPPER(pw.fn.TRIM(card))


def card_query(card, library):
    """A library's patron by card number as typed (as a query others may extend)."""
    return Patron.select().where(
        (Patron.card_key == _typed(card)) & ~Patron.deleted & (Patron.library == library))


BY_CARD = Prepared(Patron, card_query, 2)
BY_CARD_ANYWHERE = Prepared(Patron, lambda card: Patron.select().where(
    (Patron.card_key == _typed(card)) & ~Patron.deleted).order_by(Patron.library), 1)
OPEN_LOANS = Prepared(Loan, lambda patron: Loan.select().where(
    (Loan.patron == patron) & Loan.returned_at.is_null()).order_by(Loan.due_date), 1)
EDITABLE = ("card", "name", "category", "expiry", "birth_year", "guardian", "guardian_consent",
            "phone", "email", "keep_history", "school_class", "birth_date", "guardian_email",
            "suggestions")


def find(ctx, card, library=None):
    """A patron by card number: this library first, then town-wide cards."""
    card = (card or "").strip()
    patron = BY_CARD.first(card, library or ctx.library) or BY_CARD_ANYWHERE.first(card)
    if patron is None:
        raise NotFound("patron_not_found", N_("No patron has card %(card)s."), card=card)
    return patron


def search(ctx, q, limit=100):
    """This library's patrons whose card holds `q` or whose name holds each of its words,
    marks or none ("nguyen" finds Nguyễn), in the order Vietnamese lists of people keep
    (fold.name_sort_key), through the keys the projector keeps (findkeys.py): one index
    holds the list in that order with the keys searched, so the walk reads a patron's
    row only when it matches, and stops at `limit`."""
    live = Patron.deleted == False  # noqa: E712  (an equality the index can serve; NOT cannot)
    query = Patron.select().where((Patron.library == ctx.library) & live)
    words = words_of(q).split()
    if words:
        by_name = Patron.name_key.contains(words[0])
        for word in words[1:]:
            by_name &= Patron.name_key.contains(word)
        query = query.where(Patron.card_key.contains(card_key(q)) | by_name)
    return list(query.order_by(Patron.name_sort, Patron.id).limit(limit))


def get(ctx, patron_id):
    patron = Patron.get_or_none(Patron.id == patron_id)
    if patron is None:
        raise NotFound("patron_not_found", N_("No patron has card %(card)s."), card=patron_id)
    return patron


def _clean(data):
    fields = {}
    for name in EDITABLE:
        if name in data:
            value = data[name]
            fields[name] = value.strip() if isinstance(value, str) else value
    for name in ("expiry", "phone", "email", "guardian", "birth_year", "school_class",
                 "birth_date", "guardian_email"):
        if fields.get(name) == "":
            fields[name] = None
    return fields


def _validate(fields, current):
    merged = {**{k: getattr(current, k) for k in EDITABLE}, **fields} if current else fields
    if not CARD_RE.match(merged.get("card") or ""):
        raise Invalid("bad_card", N_("A card number is 3 to 32 letters, digits or dashes."))
    if not (merged.get("name") or "").strip():
        raise Invalid("name_required", N_("The patron's name is required."))
    if merged.get("category") not in CATEGORIES:
        raise Invalid("bad_category", N_("Unknown patron category: %(category)s."),
                      category=merged.get("category"))
    for name in ("expiry", "birth_date"):
        if merged.get(name):
            try:
                date.fromisoformat(merged[name])
            except (TypeError, ValueError):
                raise Invalid("bad_date", N_("%(value)s is not a date (YYYY-MM-DD)."),
                              value=merged[name])
    if merged.get("birth_year") is not None:
        try:
            fields["birth_year"] = int(merged["birth_year"])
        except (TypeError, ValueError):
            raise Invalid("bad_number", N_("%(field)s must be a whole number."),
                          field="birth_year")
    if merged["category"] == "child" and not (merged.get("guardian") and
                                              merged.get("guardian_consent")):
        raise Invalid("guardian_required",
                      N_("A child needs a guardian's name and the guardian's consent."))


@events.command
def save(ctx, data, library=None):
    """Register a patron (no id) or edit one (id given). Returns the Patron row."""
    library = library or ctx.library
    current = get(ctx, data["id"]) if data.get("id") else None
    if current is not None and current.deleted:  # an erased card, or a library's stand-in
        # for erased histories: no one's card (find() finds neither), and the stand-in
        # is held only where its library's erasures are applied
        raise NotFound("patron_not_found", N_("No patron has card %(card)s."),
                       card=current.card)
    authority.require_own(ctx, current.library if current else library, "patron",
                          card=current.card if current else data.get("card"))
    fields = _clean(data)
    if "guardian_consent" in fields:
        fields["guardian_consent"] = bool(fields["guardian_consent"])
    for flag in ("keep_history", "suggestions"):
        if flag in fields:
            fields[flag] = bool(fields[flag])
    _validate(fields, current)
    card = fields.get("card", current.card if current else None)
    clash = Patron.get_or_none((Patron.library == (current.library if current else library))
                               & (Patron.card_key == card_key(card)))
    if clash and (current is None or clash.id != current.id):
        raise Invalid("card_taken", N_("Card %(card)s is already in use."), card=card)
    if current is None:
        fields["library"] = library
        fields.setdefault("blocked", False)
    if data.get("pin"):
        fields["pin_hash"] = _pin_hash(data["pin"])
    record_id = current.id if current else new_id()
    return records.save(ctx, "patron.saved", Patron, "id", record_id, fields,
                        library=current.library if current else library)


def _own(ctx, card):
    """A patron this device may change: cards of other libraries are read, not edited."""
    patron = find(ctx, card)
    authority.require_own(ctx, patron.library, "patron", card=patron.card)
    return patron


def _pin_hash(pin):
    if not re.fullmatch(r"\d{4,8}", str(pin)):
        raise Invalid("bad_pin", N_("A PIN is 4 to 8 digits."))
    return passwords.hash_secret(str(pin))


@events.command
def block(ctx, card, reason):
    patron = _own(ctx, card)
    if not (reason or "").strip():
        raise Invalid("reason_required", N_("Say why the card is blocked."))
    return records.save(ctx, "patron.saved", Patron, "id", patron.id,
                        {"blocked": True, "block_reason": reason.strip()}, library=patron.library)


@events.command
def unblock(ctx, card):
    patron = _own(ctx, card)
    return records.save(ctx, "patron.saved", Patron, "id", patron.id,
                        {"blocked": False, "block_reason": None}, library=patron.library)


def verify_pin(ctx, card, pin):
    """The patron if the PIN is right; lock-out after repeated failures (per card)."""
    patron = find(ctx, card)
    attempt, _ = PinAttempt.get_or_create(card=f"{patron.library}|{patron.card}")
    if passwords.locked(attempt):
        raise Forbidden("pin_locked", N_("Too many wrong PINs. Try again later or ask staff."))
    if not patron.pin_hash or not passwords.check_secret(str(pin or ""), patron.pin_hash):
        passwords.register_failure(attempt)
        raise Forbidden("pin_wrong", N_("The PIN is not right."))
    passwords.register_success(attempt)
    return patron


def open_loans(patron):
    return OPEN_LOANS.all(patron.id)


def overdue(loans, today):
    """(how many, the earliest due date) of the open `loans` overdue on `today`."""
    late = sorted(loan.due_date for loan in loans if loan.due_date < today.isoformat())
    return len(late), late[0] if late else None


def blocks(ctx, patron, overdue_loans=None):
    """Why this patron may not borrow now: a list of (code, msgid, params).
    `overdue_loans`: `overdue` of the patron's open loans, when the caller has it (the
    desk's lookup counts them in the same statement); asked otherwise."""
    reasons = []
    if patron.blocked:
        reasons.append(("patron_blocked", N_("The card is blocked: %(reason)s"),
                        {"reason": patron.block_reason or ""}))
    if patron.expiry and patron.expiry < ctx.clock.today().isoformat():
        reasons.append(("patron_expired", N_("The card expired on %(date)s."),
                        {"date": patron.expiry}))
    today = ctx.clock.today()
    if overdue_loans is None:
        overdue_loans = overdue(open_loans(patron), today)
    return (reasons + policy.overdue_blocks(ctx.library, patron, overdue_loans, today)
            + fee_balance.blocks(ctx.library, patron))


@events.command
def erase_history(ctx, card):
    """Unlink the patron's returned loans from the patron (the patron's right to erase):
    the loans stay as anonymous facts for the library's statistics."""
    patron = _own(ctx, card)
    events.record(ctx, "patron.history_erased", {
        "patron_id": patron.id, "before": ctx.clock.iso_now(), "before_hlc": ctx.clock.now()},
        library=patron.library)
    return patron
