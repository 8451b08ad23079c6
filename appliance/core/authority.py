"""Which library may change what: a device acts for the one library it was enrolled for.

`check` is the one rule, a pure function of an event, the library of the device that
made it and a `lookup` of the rows it names. The hub runs it on every event a branch
sends (never trusting the branch to have checked); the desk's commands refuse the same
edits before they become events (`require_own`), so every front end says no alike.

What is decided is the library of the TARGET rows (the patron's home library, the
copy's library, the hold's or rule's library), never the event's own `library` field,
which the sender writes; that field must agree with the target, because the hub routes
an event to the branches of that library.

Shared kinds (docs/sync.md, "Authority"): the union catalogue (`bib.saved`) has no
owner; any desk lends its own copies to any card of the town (`loan.out`, so a
town-wide card's loan count is kept wherever it borrows); a copy is returned at any
desk (`loan.in`); a loan is renewed at the copy's library or the borrower's home
library (or, lent for a hold at a pickup library, there); a hold is placed at this library's queue for any card, and cancelled there or
at the patron's home library. Everything else touches only the device's library.

A hold that travels (holds.py) adds exactly the steps it needs, each checked against
the hold's rows: the library asked to send a copy (the hold's `source`) sends its own
copy to the hold's library (`hold.sent`); the pickup library traps, lends and ends the
hold with a copy of that source library (`hold.trapped`, `loan.out` naming the hold and
its patron, `loan.renew` of that loan, `hold.cancelled`/`hold.expired`/`hold.fulfilled`
sending the copy home); it says a hold filled with a copy of its own (`hold.fulfilled`)
so the source library hears of it. The source library, and it alone, may say it cannot
fill the hold (`hold.declined`); the pickup library then asks another.
"""

from collections import namedtuple

import peewee as pw

from .errors import N_, Forbidden
from .fees import rules as _fee_rules
from .models import BaseModel, Conflict, Fee, Hold, Item, Loan, Patron, RemoteRequest
from .requests import rules as _request_rules
from .rights import rules as _rights_rules
from .stocktake import rules as _stocktake_rules
from .training import rules as _training_rules

Reason = namedtuple("Reason", "code message params")


def _no(code, message, **params):
    return Reason(code, message, params)


_OTHER = {
    "patron": N_("A device of library %(device)s may not change a patron of library "
                 "%(library)s."),
    "copy": N_("A device of library %(device)s may not change a copy of library %(library)s."),
    "settings": N_("A device of library %(device)s may not change the settings of library "
                   "%(library)s."),
    "loan": N_("A device of library %(device)s may not renew a loan of library %(library)s."),
    "hold": N_("A device of library %(device)s may not change a hold of library %(library)s."),
    "conflict": N_("A device of library %(device)s may not resolve a conflict of library "
                   "%(library)s."),
}


def _other(what, library, device_library):
    return _no("other_library", _OTHER[what], device=device_library, library=library)


def mismatch(claimed, library):
    return _no("library_mismatch", N_("The event says library %(claimed)s but what it "
                                      "changes belongs to library %(library)s."),
               claimed=claimed, library=library)


def owned(target, event, device_library, other):
    """Refusal unless the target's library is the device's and the event says so;
    `other` says what a device of another library may not do (%(device)s, %(library)s).
    The areas' rules (stocktake, training, fees, requests) ask it with their own words."""
    if target != device_library:
        return _no("other_library", other, device=device_library, library=target)
    if event.get("library") != target:
        return mismatch(event.get("library"), target)
    return None


def _own(what, target, event, device_library):
    return owned(target, event, device_library, _OTHER[what])


def _record(table, what):
    """A record edit (`*.saved` with id and fields): the row's library, or for a new
    row the library it is created in (as the projector decides it)."""
    def rule(event, body, device_library, lookup):
        row = lookup(table, body.get("id"))
        fields = body.get("fields") if isinstance(body.get("fields"), dict) else {}
        created_in = fields.get("library", event.get("library"))
        if "library" in fields and row is not None and fields["library"] != row["library"]:
            moved = row["library"] if row["library"] != device_library else fields["library"]
            return _other(what, moved, device_library)  # a move is a take-over
        return _own(what, row["library"] if row else created_in, event, device_library)
    return rule


def _library_saved(event, body, device_library, lookup):
    return _own("settings", body.get("id"), event, device_library)


def _settings(event, body, device_library, lookup):
    return _own("settings", body.get("library"), event, device_library)


def _erased(event, body, device_library, lookup):
    row = lookup("patron", body.get("patron_id"))
    return _own("patron", row["library"] if row else event.get("library"), event,
                device_library)


def _shared(event, body, device_library, lookup):
    return None


def _sent_for(hold, item, device_library):
    """Whether `item` is a copy of the library asked to send one for `hold`, a hold of
    `device_library`: the one other library's copy the pickup library may handle."""
    return (hold is not None and item is not None and hold["library"] == device_library
            and hold.get("source") is not None and item["library"] == hold["source"])


def _loan_out(event, body, device_library, lookup):
    """Any card of the town may borrow here; the copy must be this library's, or one sent
    here for a hold of this library, lent to that hold's patron."""
    item = lookup("item", body.get("item_id"))
    library = item["library"] if item else event.get("library")
    hold = (lookup("hold", body.get("hold_id")) if body.get("hold_id") else None) or {}
    if library != device_library and _sent_for(hold or None, item, device_library) \
            and hold.get("item_id") == body.get("item_id") \
            and hold.get("patron_id") == body.get("patron_id") \
            and body.get("pickup") == device_library:
        device_library = library  # as the copy's library would, the routing checked below
    elif body.get("pickup") is not None:
        return _other("copy", library, device_library)
    refusal = _own("copy", library, event, device_library)
    if refusal is None and body.get("library") != library:
        return mismatch(body.get("library"), library)
    return refusal


def _loan_in(event, body, device_library, lookup):
    """A copy comes back at any desk: only the event's routing must be the copy's."""
    item = lookup("item", body.get("item_id"))
    if item and event.get("library") != item["library"]:
        return mismatch(event.get("library"), item["library"])
    return None


def _loan_renew(event, body, device_library, lookup):
    """The copy's library or the borrower's renews a loan; so does the library that lent
    another library's copy sent to it for a hold (`pickup`), and no other."""
    loan = lookup("loan", body.get("loan_id"))
    if loan is None:
        return _own("copy", event.get("library"), event, device_library)
    if device_library not in (loan["library"], loan["patron_library"], loan.get("pickup")):
        return _other("loan", loan["library"], device_library)
    if event.get("library") != loan["library"]:
        return mismatch(event.get("library"), loan["library"])
    return None


def _hold_placed(event, body, device_library, lookup):
    source, passed = body.get("source"), body.get("passed_over")
    if source is not None and (not isinstance(source, str) or source == body.get("library")):
        return _no("bad_source", N_("A hold's copy is sent from another library."))
    if passed is not None and (not isinstance(passed, list) or source in passed
                               or not all(isinstance(p, str) for p in passed)):
        return _no("bad_source", N_("A hold's copy is sent from another library."))
    if "reasks" in body:  # it replaces a hold of the same library and patron, no other
        parent = lookup("hold", body["reasks"]) if isinstance(body["reasks"], str) else None
        if parent is None or parent["library"] != body.get("library") \
                or parent.get("patron_id") != body.get("patron_id"):
            return _no("bad_reask", N_("A hold asked again replaces a hold of the same "
                                       "library and patron."))
    return _own("hold", body.get("library"), event, device_library)


def _hold_at_library(event, body, device_library, lookup):
    hold = lookup("hold", body.get("hold_id"))
    library = hold["library"] if hold else event.get("library")
    refusal = _own("hold", library, event, device_library)
    if refusal is None and body.get("item_id"):
        item = lookup("item", body["item_id"])
        if item and item["library"] != device_library \
                and not _sent_for(hold, item, device_library):
            return _other("copy", item["library"], device_library)
        home = item["library"] if item else None
        if body.get("transit_to") is not None and body["transit_to"] != home:
            return _other("copy", home or body["transit_to"], device_library)
    elif refusal is None and body.get("transit_to") is not None:
        return _other("copy", body["transit_to"], device_library)
    return refusal


def _journey_home(body, hold, lookup, device_library):
    """A hold's end may send home only the copy its source library sent for it."""
    if body.get("item_id") is None and body.get("transit_to") is None:
        return None
    item = lookup("item", body.get("item_id"))
    if item is None or item["library"] != hold.get("source") \
            or body.get("transit_to") != item["library"]:
        return _other("copy", item["library"] if item else body.get("transit_to"),
                      device_library)
    return None


def _hold_sent(event, body, device_library, lookup):
    """The library asked to send a copy for another library's hold sends one of its own
    there, and nowhere else."""
    hold = lookup("hold", body.get("hold_id"))
    item = lookup("item", body.get("item_id"))
    if hold is None or hold.get("source") != device_library:
        return _other("hold", hold["library"] if hold else event.get("library"),
                      device_library)
    if item is None or item["library"] != device_library:
        return _other("copy", item["library"] if item else event.get("library"),
                      device_library)
    if body.get("transit_to") != hold["library"]:
        return _other("hold", hold["library"], device_library)
    if event.get("library") != hold["library"]:
        return mismatch(event.get("library"), hold["library"])
    return None


def _hold_cancelled(event, body, device_library, lookup):
    hold = lookup("hold", body.get("hold_id"))
    if hold is not None and device_library == hold["patron_library"] \
            and event.get("library") in (hold["library"], device_library):
        # the patron's home library cancels for its patron; a copy sent for it goes home
        return _journey_home(body, hold, lookup, device_library)
    return _hold_at_library(event, body, device_library, lookup)


def _hold_declined(event, body, device_library, lookup):
    """Only the library a hold asked to send a copy says it cannot; routed to the hold's
    library, which asks the next one (holds.decline)."""
    hold = lookup("hold", body.get("hold_id"))
    if hold is None or hold.get("source") != device_library \
            or body.get("source") != device_library:
        return _no("not_asked", N_("Only the library asked to send a copy for a hold may "
                                   "say it cannot fill it; library %(device)s was not."),
                   device=device_library)
    if event.get("library") != hold["library"]:
        return mismatch(event.get("library"), hold["library"])
    return None


def _item_received(event, body, device_library, lookup):
    """A copy returned elsewhere arrives at its own library."""
    item = lookup("item", body.get("item_id"))
    return _own("copy", item["library"] if item else event.get("library"), event,
                device_library)


def _conflict_resolved(event, body, device_library, lookup):
    row = lookup("conflict", body.get("conflict_id"))
    return _own("conflict", row["library"] if row else event.get("library"), event,
                device_library)


def _digital(event, body, device_library, lookup):
    """A digital document, its page text and its use belong to the library that made
    them. A restricted document is never sent: one that comes is refused (and kept in
    the quarantine, never applied)."""
    if event.get("kind") == "digital.saved" and body.get("access") == "restricted":
        return _no("restricted_sent", N_("A restricted document may not leave its library."))
    library = body.get("library", event.get("library"))
    return _own("settings", library, event, device_library)


RULES = {
    "library.saved": _library_saved,
    "patron.saved": _record("patron", "patron"),
    "patron.history_erased": _erased,
    "bib.saved": _shared,
    "item.saved": _record("item", "copy"),
    "item.received": _item_received,
    "loan.out": _loan_out,
    "loan.in": _loan_in,
    "loan.renew": _loan_renew,
    "hold.placed": _hold_placed,
    "hold.trapped": _hold_at_library,
    "hold.sent": _hold_sent,
    "hold.cancelled": _hold_cancelled,
    "hold.expired": _hold_at_library,
    "hold.fulfilled": _hold_at_library,  # filled here: said to the library asked to send
    "hold.declined": _hold_declined,  # the library asked cannot send a copy
    "rule.saved": _settings,
    "calendar.saved": _settings,
    "conflict.resolved": _conflict_resolved,
    "visit.recorded": _settings,  # counted at this library, whoever's card it is
    "visit.counted": _settings,
    "item.used": _settings,
    "bib.merged": _shared,  # records are the town's: a merge moves no copy between libraries
    "digital.saved": _digital,
    "digital.text": _digital,
    "digital.used": _digital,
}
RULES.update(_stocktake_rules.RULES)  # a library's own shelves (core/stocktake)
RULES.update(_request_rules.RULES)  # the library that handles a request (core/requests)
RULES.update(_fee_rules.RULES)  # the copy's library charges; paid where charged (core/fees)
RULES.update(_training_rules.RULES)  # a library's own staff (core/training)
RULES.update(_rights_rules.RULES)  # patrons' rights (core/rights)
SHARED = ("bib.saved", "loan.out", "loan.in", "loan.renew", "hold.placed", "hold.cancelled",
          "hold.sent", "hold.trapped", "hold.expired", "hold.fulfilled", "hold.declined")


def check(event, device_library, lookup):
    """None when a device of `device_library` may make `event`, else a Reason.

    `lookup(table, id)` gives the named row as a dict with its `library` (and for loans
    and holds `patron_library`), or None when it is not held."""
    rule = RULES.get(event.get("kind"))
    if rule is None:  # a kind this version cannot judge is not applied on trust
        return _no("unknown_kind", N_("Events of kind %(kind)s are not known here."),
                   kind=event.get("kind"))
    body = event.get("body") if isinstance(event.get("body"), dict) else {}
    return rule(event, body, device_library, lookup)


def screen(event_dicts, device_library, lookup):
    """{event id: Reason} for the refused events of a batch, checked in order: a row an
    allowed event of the batch creates counts as held for the events after it."""
    made: dict[tuple, dict] = {}
    refused: dict[str, Reason] = {}

    def seen(table, key):
        return made.get((table, key)) or lookup(table, key)

    for event in event_dicts:
        reason = check(event, device_library, seen)
        if reason is not None:
            refused[event.get("id")] = reason
            continue
        table = {"patron.saved": "patron", "item.saved": "item"}.get(event.get("kind"))
        body = event.get("body") or {}
        if event.get("kind") == "request.placed":
            made[("request", body.get("request_id"))] = {"library": body.get("library")}
        if event.get("kind") == "hold.placed" and not seen("hold", body.get("hold_id")):
            patron = seen("patron", body.get("patron_id"))
            made[("hold", body.get("hold_id"))] = {
                "library": body.get("library"), "source": body.get("source"),
                "patron_id": body.get("patron_id"), "item_id": None,
                "patron_library": patron["library"] if patron else None}
        if event.get("kind") == "loan.out" and not seen("loan", body.get("loan_id")):
            # its renewal may come in the same batch (lent and renewed while offline), by
            # the library that lent it (a device lends nothing for another library)
            made[("loan", body.get("loan_id"))] = {
                "library": body.get("library"), "pickup": body.get("pickup"),
                "patron_library": None}
        if event.get("kind") == "fee.charged" and not seen("fee", body.get("fee_id")):
            made[("fee", body.get("fee_id"))] = {"library": body.get("library")}
        if event.get("kind") == "hold.trapped" and seen("hold", body.get("hold_id")):
            # the copy it names is the one the hold's loan may lend (as the projector has it)
            made[("hold", body["hold_id"])] = dict(seen("hold", body["hold_id"]),
                                                   item_id=body.get("item_id"))
        if table and not seen(table, body.get("id")):
            made[(table, body.get("id"))] = {
                "library": (body.get("fields") or {}).get("library", event.get("library"))}
    return refused


# The rows each kind names, as (table, body key): fetched for a whole batch at once, so
# the hub's check costs a few queries per batch, not one per event.
TARGETS = {
    "patron.saved": (("patron", "id"),), "patron.history_erased": (("patron", "patron_id"),),
    "item.saved": (("item", "id"),), "item.received": (("item", "item_id"),),
    "loan.out": (("item", "item_id"), ("hold", "hold_id")),
    "hold.placed": (("patron", "patron_id"), ("hold", "reasks")),
    "loan.in": (("item", "item_id"),), "loan.renew": (("loan", "loan_id"),),
    "hold.trapped": (("hold", "hold_id"), ("item", "item_id")),
    "hold.sent": (("hold", "hold_id"), ("item", "item_id")),
    "hold.cancelled": (("hold", "hold_id"), ("item", "item_id")),
    "hold.expired": (("hold", "hold_id"), ("item", "item_id")),
    "hold.fulfilled": (("hold", "hold_id"), ("item", "item_id")),
    "hold.declined": (("hold", "hold_id"),),
    "conflict.resolved": (("conflict", "conflict_id"),),
    **_request_rules.TARGETS,
    **_fee_rules.TARGETS,
    **_rights_rules.TARGETS,
}


def _queries(keys):
    """table -> query of (id, library[, patron_library]) rows for these ids."""
    return {
        "patron": lambda: Patron.select(Patron.id, Patron.library).where(
            Patron.id << keys["patron"]),
        "item": lambda: Item.select(Item.id, Item.library).where(Item.id << keys["item"]),
        "loan": lambda: Loan.select(Loan.id, Item.library, Loan.pickup, Patron.library.alias(
            "patron_library")).join(Item, on=Loan.item == Item.id).join_from(
            Loan, Patron, on=Loan.patron == Patron.id).where(Loan.id << keys["loan"]),
        "hold": lambda: Hold.select(Hold.id, Hold.library, Hold.source, Hold.item.alias(
            "item_id"), Hold.patron.alias("patron_id"), Patron.library.alias(
            "patron_library")).join(Patron, on=Hold.patron == Patron.id).where(
            Hold.id << keys["hold"]),
        "conflict": lambda: Conflict.select(Conflict.id, Conflict.library).where(
            Conflict.id << keys["conflict"]),
        "request": lambda: RemoteRequest.select(
            RemoteRequest.id, RemoteRequest.library, RemoteRequest.patron).where(
            RemoteRequest.id << keys["request"]),
        "fee": lambda: Fee.select(Fee.id, Fee.library).where(Fee.id << keys["fee"]),
    }


def batch_lookup(event_dicts):
    """The lookup `check` needs for these events, read from this database at once."""
    keys: dict[str, set] = {}
    for event in event_dicts:
        body = event.get("body") if isinstance(event, dict) else None
        if not isinstance(body, dict):
            continue
        for table, name in TARGETS.get(event.get("kind"), ()):
            if isinstance(body.get(name), str):
                keys.setdefault(table, set()).add(body[name])
    rows = {}
    queries = _queries({table: sorted(ids) for table, ids in keys.items()})
    for table in keys:
        for row in queries[table]().dicts():
            rows[(table, row.pop("id"))] = row

    def lookup(table, key):
        return rows.get((table, key))
    return lookup


# At the desk: the same rule, said before anything is recorded.

def require_own(ctx, library, what, **params):
    """Refuse to change another library's patron, copy or settings. The hub's staff act
    for the whole town (the hub checks branches, not itself)."""
    if ctx.role == "hub" or library == ctx.library:
        return
    messages = {
        "patron": N_("Card %(card)s belongs to library %(library)s: only that library may "
                     "change it."),
        "copy": N_("Copy %(barcode)s belongs to library %(library)s: only that library may "
                   "change it."),
        "settings": N_("The rules and calendar of library %(library)s are changed only "
                       "there."),
    }
    raise Forbidden("other_library", messages[what], library=library, **params)


class Quarantine(BaseModel):
    """An event the hub holds in its log but did not apply or relay, because the device
    that made it may not change what it names. Kept for staff: it is still a fact
    someone typed. Local to the hub, never replicated."""

    event_id = pw.CharField(primary_key=True, max_length=36)
    origin = pw.CharField(max_length=64, index=True)
    device_library = pw.CharField(max_length=32)
    library = pw.CharField(max_length=32)  # what the event claimed
    actor = pw.CharField(max_length=64, null=True)
    kind = pw.CharField(max_length=32)
    code = pw.CharField(max_length=32)
    message = pw.TextField()  # msgid, translated where it is shown
    params = pw.TextField()  # JSON
    event = pw.TextField()  # the event as received, JSON
    received_at = pw.CharField(max_length=32, index=True)


def held_back():
    """The ids of events the log holds but state does not reflect (rebuild skips them)."""
    if not Quarantine.table_exists():  # a database older than the check (a migration)
        return []
    return Quarantine.select(Quarantine.event_id)


def _register():
    from . import db

    db.register_models(Quarantine)


_register()
