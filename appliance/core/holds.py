"""Holds: a queue per record and library. A hold waits until staff scan a copy for it:
a copy coming back from a loan, or one they took off the open shelf from the pull list
(`pull_list`). The scan traps it: the copy goes to the hold shelf for the first patron
waiting, who has a few open days to pick it up. Until then a copy on the open shelf is
anyone's to borrow, as in Koha and Evergreen.

A hold placed where no copy of the record is travels (docs/circulation.md): it names
the library asked to send one (`source`), whose pull list shows it beside its own; its
trap sends the copy (`hold.sent`, a transit slip naming the pickup library), and the
pickup library's one scan puts it on its hold shelf (`hold.trapped`, `received`). A copy
that arrives for a hold ended meanwhile goes back home from that scan (`send_home`), the
hold's end said as it was: a patron who took a copy of the pickup library's own off the
shelf meanwhile filled it (`filled_here` tells the library asked)."""

import uuid
from datetime import timedelta

import peewee as pw

from . import events, patrons, policy, shelves
from .catalogue import get_bib
from .errors import N_, Forbidden, NotFound, Refused
from .ids import new_id
from .models import OPEN_HOLDS, Bib, Hold, Item, Loan, Patron, Stamp
from .prepared import Prepared
from .projector import DECLINE_REASON_MAX

PICKUP_DAYS = 7


def fills_here(library, again=None):
    """The holds a copy of `library` fills: its own queue's, and those it was asked to
    send a copy for and has not declined. (`again`: the library once more, as a prepared
    query's own marker.)"""
    return (((Hold.library == library) & Hold.source.is_null())
            | ((Hold.source == (library if again is None else again))
               & Hold.declined.is_null()))


WAITING = Prepared(Hold, lambda bib, library, again: Hold.select().where(
    (Hold.bib == bib) & fills_here(library, again) & (Hold.status == "waiting"))
    .order_by(Hold.placed_at, Hold.id).limit(1), 3)


def waiting_for(bib_id, library):
    return WAITING.first(bib_id, library, library)


def waiting_count(bib_id, library):
    return Hold.select().where((Hold.bib == bib_id) & fills_here(library)
                               & (Hold.status == "waiting")).count()


def shelf_count(bib_id, library):
    """Copies of a record on the open shelf here, free to fill a hold."""
    return Item.select().where((Item.bib == bib_id) & (Item.library == library)
                               & (Item.status == "available")).count()


def pull_list(library):
    """What staff fetch from the shelves: for each record with holds waiting here, the
    copies on the open shelf that can fill them (as many as holds wait), oldest hold
    first. Rows: hold (with patron and record), copy. Two queries whatever the length."""
    waiting = list(Hold.select(Hold, Patron, Bib).join(Patron).switch(Hold).join(Bib)
                   .where(fills_here(library) & (Hold.status == "waiting"))
                   .order_by(Hold.placed_at, Hold.id))
    if not waiting:
        return []
    shelf: dict[str, list] = {}
    # by record only: with `library = ?` too, SQLite walks every copy of the library
    # (its index) rather than the few copies of these records
    for item in (Item.select().where(Item.bib << sorted({h.bib_id for h in waiting}))
                 .order_by(Item.location, Item.call_number, Item.barcode)):
        if item.library == library and item.status == "available":
            shelf.setdefault(item.bib_id, []).append(item)
    rows = []
    for hold in waiting:
        copies = shelf.get(hold.bib_id) or []
        if copies:
            rows.append((hold, copies.pop(0)))
    return rows


def _lenders(ctx, bib_id, *besides):
    """Other libraries' copies of the record they could lend (not lost, damaged or
    withdrawn), a copy on its shelf now first, as this node can know it (the hub's
    statuses; at a branch, the hub's word from the last sync, else the statuses held
    here, which lack other libraries' loans: core/shelves.py), then by library and
    barcode: whom a hold asks. With no copy known on a shelf, by library and barcode."""
    said = shelves.word(ctx)
    return sorted(Item.select().where((Item.bib == bib_id) & Item.library.not_in(besides)
                                      & (Item.condition == "available")),
                  key=lambda i: (not shelves.on_shelf(i, said), i.library, i.barcode))


def _source(ctx, bib_id):
    """(copies of the record, the library asked to send one or None): this library's own
    copies when it has any, else those of the library of the town with a copy on its
    shelf as known here (`_lenders`), then by code."""
    copies = list(Item.select().where((Item.bib == bib_id) & (Item.library == ctx.library)))
    if copies or ctx.role == "hub":  # the hub's staff place holds at a library's queue
        if not copies:
            raise Refused("no_copies", N_("This library has no copy of that record."))
        return copies, None
    others = _lenders(ctx, bib_id, ctx.library)
    if not others:
        raise Refused("no_copies", N_("No library of the town has a copy of that record."))
    return others, others[0].library


@events.command
def place(ctx, card, bib_id):
    patron = patrons.find(ctx, card)
    for code, message, params in patrons.blocks(ctx, patron):
        raise Refused(code, message, **params)
    bib = get_bib(ctx, bib_id)
    copies, source = _source(ctx, bib.id)
    if not policy.rule_for(ctx.library, patron.category, copies[0].item_type).holds_allowed:
        raise Refused("holds_not_allowed", N_("Holds are not allowed for this card."))
    if Hold.select().where((Hold.patron == patron.id) & (Hold.bib == bib.id)
                           & (Hold.status << OPEN_HOLDS)).exists():
        raise Refused("hold_exists", N_("The patron already has a hold on this record."))
    if Loan.select().join(Item).where((Loan.patron == patron.id) & (Item.bib == bib.id)
                                      & Loan.returned_at.is_null()).exists():
        raise Refused("hold_on_own_loan", N_("The patron already has this on loan."))
    body = {"hold_id": new_id(), "patron_id": patron.id, "bib_id": bib.id,
            "library": ctx.library, "at": ctx.clock.iso_now()}
    if source:  # picked up here, sent from there: its pull list shows it
        body["source"] = source
    events.record(ctx, "hold.placed", body)  # it waits: a copy on the shelf is pulled
    return Hold.get_by_id(body["hold_id"])


def _get(hold_id):
    hold = Hold.get_or_none(Hold.id == hold_id)
    if hold is None:
        raise NotFound("hold_not_found", N_("No such hold."))
    return hold


def trap(ctx, item):
    """Put a returned copy on the hold shelf for the first patron waiting, if any; for a
    hold picked up at another library, send it there."""
    hold = waiting_for(item.bib_id, item.library)
    if hold is None:
        return None
    if hold.library != item.library:
        return _send(ctx, item, hold)
    pickup_by = policy.due_date(item.library, ctx.clock.today(), PICKUP_DAYS)
    events.record(ctx, "hold.trapped", {"hold_id": hold.id, "item_id": item.id,
                                        "pickup_by": pickup_by.isoformat()})
    return {"hold_id": hold.id, "patron": hold.patron.card, "name": hold.patron.name,
            "pickup_by": pickup_by.isoformat(), "library": hold.library,
            "title": hold.bib.title, "barcode": item.barcode}


def _send(ctx, item, hold):
    """The copy goes to the hold's pickup library: a transit slip, no patron's name (the
    card number and the pickup library say where it goes; privacy.py)."""
    events.record(ctx, "hold.sent", {"hold_id": hold.id, "item_id": item.id,
                                     "transit_to": hold.library, "at": ctx.clock.iso_now()},
                  library=hold.library)
    return {"hold_id": hold.id, "patron": hold.patron.card, "library": hold.library,
            "title": hold.bib.title, "barcode": item.barcode, "sent": True}


# The hold of this library another library's copy came for: the one it was sent for,
# else the oldest waiting for its record from that library.
ARRIVING = Prepared(Hold, lambda library, home, item, bib, again: Hold.select().where(
    (Hold.library == library) & (Hold.source == home) & (
        ((Hold.item == item) & (Hold.status == "in_transit"))
        | ((Hold.bib == bib) & (Hold.status << ("waiting", "in_transit")))))
    .order_by((Hold.item == again).desc(), Hold.placed_at, Hold.id).limit(1), 5)


def arriving_for(ctx, item):
    """The hold here that another library's copy, handed in here, was sent for."""
    return ARRIVING.first(ctx.library, item.library, item.id, item.bib_id, item.id)


ENDED = ("cancelled", "expired", "fulfilled")
# A hold placed this many days ago or less may have had a copy sent that crosses its
# cancelling: a copy of its record handed in later is taken for a patron's return.
CROSSING_DAYS = 30

def _sent_for_ended(library, home, sent, bib, since, again):
    came_for = (Hold.item == sent) | (Hold.item.is_null() & (Hold.bib == bib)
                                      & (Hold.placed_at >= since))
    return Hold.select().where((Hold.library == library) & (Hold.source == home)
                               & (Hold.status << ENDED) & came_for).order_by(
        (Hold.item == again).desc(), Hold.placed_at.desc(), Hold.id).limit(1)


# The ended hold of this library another library's copy was sent for: the one it was sent
# for as last heard here (`sent`: the copy, when its latest word sends it here; else
# nothing matches), else a recent one of its record that never had a copy here (it ended
# before the sending was heard).
SENT_FOR_ENDED = Prepared(Hold, _sent_for_ended, 6)


def ended_for(ctx, item):
    """The hold here, ended (cancelled most often) before its copy arrived, that another
    library's copy handed in here was sent for: nobody here waits for it."""
    sent = item.id if item.transit_to == ctx.library else ""
    since = (ctx.clock.today() - timedelta(days=CROSSING_DAYS)).isoformat()
    return SENT_FOR_ENDED.first(ctx.library, item.library, sent, item.bib_id, since, sent)


# The event that says each end of a hold (and, naming a copy, sends it home).
END_KINDS = {"cancelled": "hold.cancelled", "expired": "hold.expired",
             "fulfilled": "hold.fulfilled"}


def send_home(ctx, item, hold):
    """A copy that came for a hold that ended goes back to its library: the hold's end
    said again, as it was (a hold the patron had filled here with another copy stays
    fulfilled at the library that sent the copy), with the copy's way home (as `_end`
    says it when the copy is known), so its library sees it coming and no loan of it is
    taken for returned."""
    events.record(ctx, END_KINDS[hold.status], {"hold_id": hold.id, "item_id": item.id,
                                                "transit_to": item.library})
    return {"hold_ended": hold.status, "transit": item.library}


def filled_here(ctx, hold_id, item):
    """A loan here of `item` filled the hold `hold_id`. When the hold asked another
    library for a copy and this is not one of that library's (the loan's event reaches
    only the copy's library), that library is told the hold is fulfilled: it leaves its
    pull list, and a copy it sent meanwhile goes home from here (`send_home`)."""
    hold = Hold.get_or_none(Hold.id == hold_id)
    if hold is not None and hold.source is not None and hold.source != item.library:
        events.record(ctx, "hold.fulfilled", {"hold_id": hold.id}, library=hold.library)


def receive(ctx, item, hold):
    """Another library's copy arrived for a hold picked up here: on the hold shelf (it
    works offline too, before the sending is held here: the hold names the library)."""
    pickup_by = policy.due_date(ctx.library, ctx.clock.today(), PICKUP_DAYS)
    events.record(ctx, "hold.trapped", {"hold_id": hold.id, "item_id": item.id,
                                        "pickup_by": pickup_by.isoformat(), "received": True})
    return {"hold_id": hold.id, "patron": hold.patron.card, "name": hold.patron.name,
            "pickup_by": pickup_by.isoformat(), "library": hold.library,
            "title": hold.bib.title, "barcode": item.barcode}


def _end(ctx, hold, kind):
    with events.writing(ctx):
        body = {"hold_id": hold.id}
        item = Item.get_by_id(hold.item_id) if hold.item_id else None
        if item is not None and item.library == hold.source and hold.status in (
                "in_transit", "ready"):  # the copy its source sent for it goes home
            body.update(item_id=item.id, transit_to=item.library)
        events.record(ctx, kind, body)
        pass_on(ctx, hold, item)


def _held_on_shelf(hold, item):
    """Whether the ended hold `hold` held `item` on this library's hold shelf when it
    ended: its latest trap named the copy, and the copy was lent to nobody since."""
    trapped = Stamp.get_or_none(Stamp.key == "trap:" + hold.id)
    return trapped is not None and hold.item_id == item.id and not Loan.select().where(
        (Loan.item == item.id) & (Loan.out_hlc > trapped.hlc)).exists()


def pass_on(ctx, hold, item):
    """The one rule for a copy left on the hold shelf by a hold that ended, whatever
    ended it (cancelled, expired, or replaced: another ask of the patron's request
    stands, or the request was filled elsewhere): a copy of the pickup library's own goes
    to the next hold waiting for its record here (`trap`); with none waiting it is back
    on the open shelf. A copy the hold's source sent goes home instead (`_end`,
    `_say_replaced`). Only at the copy's library (or by the hub's staff), where it is."""
    if item is None or item.library == hold.source or not (
            item.library == ctx.library or ctx.role == "hub"):
        return None
    item = Item.get_by_id(item.id)  # as the end left it: on the open shelf, unless lent
    if item.status != "available" or not _held_on_shelf(hold, item):
        return None
    return trap(ctx, item)


@events.command
def cancel(ctx, hold_id, patron_card=None):
    hold = _get(hold_id)
    if patron_card is not None and hold.patron.card != patron_card:
        raise NotFound("hold_not_found", N_("No such hold."))
    if ctx.role != "hub" and ctx.library not in (hold.library, hold.patron.library):
        raise Forbidden("other_library", N_("This hold belongs to library %(library)s: only "
                                            "that library or the card's may cancel it."),
                        library=hold.library)
    if hold.status not in OPEN_HOLDS:
        raise Refused("hold_closed", N_("This hold is already closed."))
    _end(ctx, hold, "hold.cancelled")


# Asking again. A hold asked of a library that can no longer lend a copy of the record
# (all its copies lost, damaged or withdrawn since, as every branch holds the town's
# copies), or that said it cannot fill it (`decline`), or that has no copy on its shelf
# while another library has one (the hub's word: core/shelves.py) is asked of the next
# library that can, as Koha and Evergreen re-target a hold; one the pickup library can
# fill itself now (a copy of its own since) joins its own queue, and so does a declined
# one no other library can lend for. Only a waiting hold: once a copy is on its way, it
# is that copy's. The hold is ended and placed again, keeping its place in the queue
# (`placed_at`) and the libraries that declined (`passed_over`, never asked again), so
# each step is one every node already applies, a copy sent before the asking library
# heard of it goes home (`send_home`), and the library no longer asked hears of it. The
# new hold names the old (`reasks`): two desks asking again apart end with one ask on
# every node (projector `_one_ask_stands`), and the replaced one is said (`_say_replaced`).

_REASKED = uuid.UUID("3b0f5a52-7a2e-4f3e-9d4c-6c1b2f0d8e11")


def _lendable(library_is):
    """Whether the library `library_is` names has a copy of the hold's record it could
    lend (on loan or on its shelf: not lost, damaged or withdrawn)."""
    copy = Item.alias()
    return pw.fn.EXISTS(copy.select(copy.id).where(
        (copy.bib == Hold.bib) & (copy.library == library_is)
        & (copy.condition == "available")))


def _passed_over(hold):
    """The libraries this hold may not be asked of again: those that declined it or
    another hold of the patron's request."""
    return set(hold.passed_over or ()) | ({hold.source} if hold.declined else set())


def _off_shelf(hold, said):
    """Whether the hub's word `said` has no copy of the hold's record on the shelf of the
    library asked, and one on the shelf of a library it may ask instead."""
    there = said.get(hold.bib_id)
    if there is None or hold.source in there:
        return False
    return bool(there - _passed_over(hold) - {hold.library, hold.source})


def stranded(library, said=None):
    """Waiting holds of `library` asked of a library with no copy of the record it could
    lend, or that declined it or another hold of the patron's request (one asked before
    it: the projector passes that library over), or (by the hub's word `said`,
    core/shelves.py) with none on its shelf while another has one; or that `library`
    could fill from its own shelves."""
    travelling = ((Hold.library == library) & Hold.source.is_null(False)
                  & (Hold.status == "waiting"))
    found = {hold.id: hold for hold in Hold.select().where(
        travelling & (~_lendable(Hold.source) | _lendable(Hold.library)
                      | Hold.declined.is_null(False)))}
    for hold in Hold.select().where(travelling & Hold.passed_over.is_null(False)):
        if hold.source in hold.passed_over:
            found.setdefault(hold.id, hold)
    if said:
        for hold in Hold.select().where(travelling & (Hold.bib << sorted(said))):
            if _off_shelf(hold, said):
                found.setdefault(hold.id, hold)
    return sorted(found.values(), key=lambda hold: (hold.placed_at, hold.id))


def _next_source(ctx, hold):
    """None for the pickup library's own queue, else the library to ask (as `_source`
    chooses, among those that can lend a copy and never declined it, the one asked now
    aside); the one asked now when no other can, unless it declined (then the pickup
    library's own queue: staff there see it waits for nothing)."""
    if Item.select().where((Item.bib == hold.bib_id) & (Item.library == hold.library)
                           & (Item.condition == "available")).exists():
        return None
    others = _lenders(ctx, hold.bib_id, hold.library, hold.source, *_passed_over(hold))
    if others:
        return others[0].library
    return None if hold.source in _passed_over(hold) else hold.source


@events.command
def reask(ctx):
    """Ask again, for this library's stranded holds (above); the number asked again.
    Two desks doing it apart with the same knowledge make the same new hold (its id is
    the old one's and the library asked); with different words on the shelves, two
    holds, of which one stands on every node (projector): each replaced one is said to
    the library it asked (`_say_replaced`)."""
    moved = 0
    for hold in stranded(ctx.library, shelves.word(ctx)):
        source = _next_source(ctx, hold)
        if source == hold.source:
            continue  # no library can lend one: it waits as it is
        events.record(ctx, "hold.cancelled", {"hold_id": hold.id, "reasked": True})
        body = {"hold_id": str(uuid.uuid5(_REASKED, f"{hold.id}:{source or ''}")),
                "patron_id": hold.patron_id, "bib_id": hold.bib_id, "library": hold.library,
                "at": hold.placed_at, "reasks": hold.id}
        if source:
            body["source"] = source
        passed = sorted(_passed_over(hold) - {source})
        if passed:
            body["passed_over"] = passed
        events.record(ctx, "hold.placed", body)
        moved += 1
    # said after asking again: a copy a replaced ask held on the shelf here goes to the
    # oldest hold waiting here then, the patron's own ask brought home first
    for hold in Hold.select().where((Hold.library == ctx.library)
                                    & (Hold.replaced == "found")).order_by(Hold.id):
        _say_replaced(ctx, hold)
    return moved


def _say_replaced(ctx, hold):
    """Tell the library a replaced hold asked that it is no longer asked (it holds no
    word of the ask that stands: the hub routes a hold's steps to the library it asks).
    A copy it sent that is on this library's hold shelf goes home, as `_end` sends one;
    one still on its way goes home from its arrival (`ended_for`). A copy of this
    library's own it held on the shelf goes to the next hold waiting here, as when any
    hold ends (`pass_on`)."""
    body = {"hold_id": hold.id, "replaced": True}
    item = Item.get_or_none(Item.id == hold.item_id) if hold.item_id else None
    if item is not None and item.library == hold.source and item.transit_to is None \
            and item.status == "available" and Stamp.get_or_none(
                Stamp.key == "trap:" + hold.id) is not None:  # received here
        body.update(item_id=item.id, transit_to=item.library)
    events.record(ctx, "hold.cancelled", body)
    pass_on(ctx, hold, item)


# Declining. The library asked to send a copy may find it cannot (the copy is not on the
# shelf where the catalogue says, it is damaged, it is kept for reading in the library):
# its staff say so with a reason, and the pickup library asks the next library (`reask`).

def asked_of(library):
    """Waiting holds of other libraries asked of `library` and not declined, oldest
    first, with patron and record: those its staff may decline."""
    return list(Hold.select(Hold, Patron, Bib).join(Patron).switch(Hold).join(Bib).where(
        (Hold.source == library) & Hold.declined.is_null() & (Hold.status == "waiting"))
        .order_by(Hold.placed_at, Hold.id))


@events.command
def decline(ctx, hold_id, reason, actor=None):
    """The library asked to send a copy for `hold_id` cannot: `hold.declined` with the
    reason, routed to the pickup library, which asks another (`reask`)."""
    hold = _get(hold_id)
    if hold.source is None or hold.source != ctx.library:
        raise Forbidden("not_asked", N_("Library %(library)s was not asked to send a copy "
                                        "for this hold: only the library asked may say it "
                                        "cannot fill it."), library=ctx.library)
    if hold.declined is not None:
        raise Refused("hold_declined", N_("This library has already said it cannot fill "
                                          "this hold."))
    if hold.status == "in_transit":
        raise Refused("hold_sent", N_("A copy is already on its way for this hold: it can "
                                      "no longer be declined."))
    if hold.status != "waiting":
        raise Refused("hold_closed", N_("This hold is already closed."))
    reason = " ".join((reason or "").split())
    if not reason:
        raise Refused("reason_needed", N_("Say why the hold cannot be filled."))
    if len(reason) > DECLINE_REASON_MAX:
        raise Refused("reason_too_long", N_("The reason is too long (at most %(max)s "
                                            "characters)."), max=DECLINE_REASON_MAX)
    body = {"hold_id": hold.id, "source": ctx.library, "reason": reason,
            "at": ctx.clock.iso_now()}
    if actor:
        body["actor"] = actor
    events.record(ctx, "hold.declined", body, library=hold.library)
    return {"hold_id": hold.id, "library": hold.library, "title": hold.bib.title,
            "reason": reason}


@events.command
def expire_pickups(ctx):
    """Holds whose pickup day has passed move the copy on down the queue."""
    today = ctx.clock.today().isoformat()
    expired = list(Hold.select().where((Hold.status == "ready") & (Hold.pickup_by < today)
                                       & (Hold.library == ctx.library)))
    for hold in expired:
        _end(ctx, hold, "hold.expired")
    return len(expired)
