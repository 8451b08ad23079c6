"""Conflicts as staff read and settle them.

The projector keeps a Conflict row when events from two places contradict each other
(two loans of one copy, two edits of one field, a return of a copy not on loan...).
`describe` says what happened at each place — which library and device, who, when, what
each side set or which loan — as message ids and parameters the web layer puts in
words. `resolve` records staff's choice as a `conflict.resolved` event, which syncs
like any other: keep the side that stands, keep the other side (for an edit: its value
is written again as a new edit), or accept both and fix by hand."""

import json

from . import events, records
from .errors import N_, Forbidden, Invalid, NotFound
from .models import Bib, Conflict, Event, FieldEdit, Item, Library, Loan, Patron, Stamp

KEEP_STANDING, KEEP_OTHER, BY_HAND = "keep_standing", "keep_other", "by_hand"

TITLES = {
    "edit_conflict": N_("Two places changed the same field"),
    "loaned_twice": N_("One copy was lent at two places"),
    "returned_not_on_loan": N_("A copy was returned that was not on loan"),
    "unknown_reference": N_("A loan named a copy or a card not known here"),
    "renewal_not_on_loan": N_("A loan not known here was renewed"),
    "renewal_past_limit": N_("A loan was renewed past its limit"),
    "merge_loop": N_("Two records were merged into each other"),
    "card_taken": N_("One card number was given to two patrons"),
    "barcode_taken": N_("One barcode was given to two copies"),
}
CHOICE_TEXTS = {
    KEEP_STANDING: N_("Keep what stands now"),
    KEEP_OTHER: N_("Keep the other side instead"),
    BY_HAND: N_("Accept both and fix it by hand"),
}
FIELD_NAMES = {
    "title": N_("title"), "authors": N_("authors"), "publisher": N_("publisher"),
    "year": N_("year"), "isbn": N_("ISBN"), "subjects": N_("subjects"),
    "series": N_("series"), "notes": N_("notes"), "ddc": N_("DDC class number"),
    "language": N_("language"), "name": N_("name"), "card": N_("card number"),
    "phone": N_("phone"), "email": N_("e-mail"), "expiry": N_("expiry date"),
    "category": N_("category"), "guardian": N_("guardian"), "location": N_("location"),
    "call_number": N_("call number"), "barcode": N_("barcode"), "condition": N_("status"),
    "item_type": N_("type"), "blocked": N_("block"), "block_reason": N_("block reason"),
}
_MODELS = {"Bib": (Bib, "bib.saved"), "Patron": (Patron, "patron.saved"),
           "Item": (Item, "item.saved")}


def choices(conflict):
    """What staff may choose for this conflict."""
    if conflict.kind == "edit_conflict" and conflict.details.get("model") in _MODELS:
        return (KEEP_STANDING, KEEP_OTHER, BY_HAND)
    return (KEEP_STANDING, BY_HAND)


def _body(ev):
    return json.loads(ev.body)


def _event(event_id):
    return Event.get_or_none(Event.id == event_id) if event_id else None


def _device_library(origin):
    """The library a device was enrolled for, from its id (context.new_device_id names it
    after its library), when the town's libraries are known here; else None. An event's
    own `library` names whose record it changed, which the town hub may do for any."""
    if not origin:
        return None
    codes = [lib.code for lib in Library.select(Library.code)
             if origin.startswith(lib.code.lower() + "-")]
    return max(codes, key=len) if codes else None


def _place(ev, library=None, at=None, actor=None):
    """Where, by whom and when something was done, from its event when it is held."""
    body = _body(ev) if ev is not None else {}
    return {"library": _device_library(ev.origin if ev else None) or library
            or (ev.library if ev else None),
            "device": ev.origin if ev else None,
            "who": actor or body.get("actor"),
            "when": at or body.get("at") or (ev.wall if ev else None)}


def _record_label(model, entity):
    """(msgid, params) naming the record a conflict is about."""
    if model == "Bib":
        bib = Bib.get_or_none(Bib.id == entity)
        return N_("the record “%(title)s”"), {"title": bib.title if bib else entity}
    if model == "Patron":
        p = Patron.get_or_none(Patron.id == entity)
        return N_("the card %(card)s (%(name)s)"), {"card": p.card if p else entity,
                                                    "name": p.name if p else "?"}
    if model == "Item":
        item = Item.get_or_none(Item.id == entity)
        return N_("the copy %(barcode)s"), {"barcode": item.barcode if item else entity}
    return N_("the library %(code)s"), {"code": entity}


def _shown(value):
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value) or "—"
    if value is True or value is False:
        return "✔" if value else "✘"
    return str(value)


def _edit_sides(conflict):
    d = conflict.details
    edits = list(FieldEdit.select().where((FieldEdit.entity == conflict.entity)
                                          & (FieldEdit.field == d.get("field"))))
    lost = next((e for e in edits if e.event == conflict.event), None)
    kept = [e for e in edits if e.value == d.get("kept")]
    standing = max(kept, key=lambda e: e.hlc) if kept else None
    sides = []
    for role, edit, value in (("standing", standing, d.get("kept")),
                              ("other", lost, d.get("lost"))):
        ev = _event(edit.event) if edit else None
        place = _place(ev, edit.library if edit else None, edit.at if edit else None)
        sides.append(dict(place, role=role, what=(N_("set it to “%(value)s”"),
                                                   {"value": _shown(value)})))
    field = d.get("field")
    label, params = _record_label(d.get("model"), conflict.entity)
    return sides, (N_("The %(field)s of %(record)s was changed at two places; only one "
                      "value can stand."),
                   {"field": (FIELD_NAMES.get(field, field), {}), "record": (label, params)})


def _loan_side(loan_id, role):
    loan = Loan.get_or_none(Loan.id == loan_id)
    if loan is None:
        return {"role": role, "library": None, "device": None, "who": None, "when": None,
                "what": (N_("a loan not held here (%(id)s)"), {"id": loan_id})}
    patron = Patron.get_or_none(Patron.id == loan.patron_id)
    what = (N_("lent to %(card)s (%(name)s), due %(due)s"),
            {"card": patron.card if patron else "?", "name": patron.name if patron else "?",
             "due": loan.due_date})
    if loan.returned_at and role == "other":
        what = (N_("lent to %(card)s (%(name)s); this loan was ended when the copy was "
                   "lent at the other place"),
                {"card": patron.card if patron else "?", "name": patron.name if patron else "?"})
    return {"role": role, "library": loan.library, "device": None, "who": None,
            "when": loan.out_at, "what": what}


def _loan_sides(conflict):
    d = conflict.details
    standing = d.get("open")
    loans = d.get("loans") or []
    sides = [_loan_side(standing, "standing")] + [
        _loan_side(other, "other") for other in loans if other != standing]
    ev = _event(conflict.event)
    if ev is not None:  # the loan whose event made the conflict: its device and staff
        body = _body(ev)
        for side in sides:
            if side["when"] == body.get("at"):
                side.update(device=ev.origin, who=body.get("actor"))
    return sides, (N_("Copy %(barcode)s was lent at two places while they could not "
                      "reach each other. The later loan stands; the copy can only be with "
                      "one reader."), {"barcode": d.get("item", "?")})


def _other_sides(conflict):
    ev = _event(conflict.event)
    what = (N_("recorded “%(kind)s”"), {"kind": ev.kind if ev else conflict.kind})
    summary: tuple[str, dict]
    if conflict.kind == "returned_not_on_loan":
        item = Item.get_or_none(Item.id == conflict.entity)
        what = (N_("took back copy %(barcode)s"),
                {"barcode": item.barcode if item else conflict.entity})
        summary = (N_("A return was recorded for a copy that was not on loan there (it "
                      "may have been returned twice)."), {})
    elif conflict.kind == "renewal_past_limit":
        summary = (N_("A loan was renewed %(renewals)s times; the rule allows "
                      "%(max_renewals)s."), dict(conflict.details))
    else:
        summary = (TITLES.get(conflict.kind, conflict.kind), {})
    return [dict(_place(ev), role="standing", what=what)], summary


def taken_number(row):
    """The card or barcode a patron or copy was given and another holds (the projector
    set its own aside, `projector._claim`), or None."""
    held = Stamp.get_or_none(Stamp.key == f"aside:{type(row).__name__}:{row.id}")
    return held.body if held is not None else None


_TAKEN: dict[str, tuple] = {
    "card_taken": (Patron, N_("%(name)s holds card %(number)s"),
                   N_("%(name)s, given the same card; it is set aside as %(aside)s"),
                   N_("Card %(number)s was given to two patrons at two places that could "
                      "not reach each other. Whoever was given it first keeps it; the other "
                      "patron is kept too, with the card set aside so no one lends on it. "
                      "Give that patron a new card (edit the patron).")),
    "barcode_taken": (Item, N_("copy of “%(name)s” holds barcode %(number)s"),
                      N_("copy of “%(name)s”, given the same barcode; it is set aside as "
                         "%(aside)s"),
                      N_("Barcode %(number)s was given to two copies at two places that "
                         "could not reach each other. The copy given it first keeps it; the "
                         "other is kept too, with its barcode set aside. Give that copy a "
                         "new barcode label (edit the copy).")),
}


def _taken_sides(conflict):
    model, holds, aside, summary = _TAKEN[conflict.kind]
    number = conflict.details.get("number")
    sides = []
    for role, entity, what in (("standing", conflict.details.get("holder"), holds),
                               ("other", conflict.entity, aside)):
        row = model.get_or_none(model.id == entity)
        name = (row.name if model is Patron else row.bib.title) if row else entity
        sides.append({"role": role, "library": conflict.library, "device": None,
                      "who": None, "when": None,
                      "what": (what, {"name": name, "number": number,
                                      "aside": getattr(row, conflict.details.get("field"),
                                                       "?") if row else "?"})})
    return sides, (summary, {"number": number})


def patrons_shown(conflict):
    """The ids of the patrons whose data `describe` shows: a look the audit trail keeps."""
    d = conflict.details
    if conflict.kind == "edit_conflict":
        return [conflict.entity] if d.get("model") == "Patron" else []
    if conflict.kind == "loaned_twice":
        ids = [i for i in (d.get("open"), *(d.get("loans") or [])) if i]
        return [loan.patron_id for loan in Loan.select(Loan.patron).where(Loan.id << ids)]
    if conflict.kind == "card_taken":
        return [p for p in (d.get("holder"), conflict.entity) if p]
    return []


def describe(conflict):
    """{"title", "summary", "sides", "choices"} of a conflict, in message ids."""
    if conflict.kind == "edit_conflict":
        sides, summary = _edit_sides(conflict)
    elif conflict.kind == "loaned_twice":
        sides, summary = _loan_sides(conflict)
    elif conflict.kind in _TAKEN:
        sides, summary = _taken_sides(conflict)
    else:
        sides, summary = _other_sides(conflict)
    return {"title": TITLES.get(conflict.kind, conflict.kind), "summary": summary,
            "sides": sides, "choices": choices(conflict)}


@events.command
def resolve(ctx, conflict_id, choice):
    """Staff's choice on an open conflict, as an event that syncs."""
    conflict = Conflict.get_or_none(Conflict.id == conflict_id)
    if conflict is None:
        raise NotFound("conflict_not_found", N_("No such conflict."))
    if ctx.role != "hub" and conflict.library != ctx.library:
        raise Forbidden("other_library", N_("This conflict belongs to library %(library)s: "
                                            "only that library may resolve it."),
                        library=conflict.library)
    if conflict.status == "resolved":
        raise Invalid("conflict_resolved", N_("This conflict was resolved already."))
    if choice not in choices(conflict):
        raise Invalid("bad_choice", N_("Choose how to resolve the conflict."))
    body = {"conflict_id": conflict.id, "resolution": choice, "at": ctx.clock.iso_now()}
    if (who := records.acting.get()) is not None:
        body["actor"] = who
    events.record(ctx, "conflict.resolved", body, library=conflict.library)
    if choice == KEEP_OTHER:  # the lost value written again, now seen by its editor
        model, kind = _MODELS[conflict.details["model"]]
        row = model.get_by_id(conflict.entity)
        records.save(ctx, kind, model, "id", conflict.entity,
                     {conflict.details["field"]: conflict.details["lost"]},
                     library=getattr(row, "library", None))
    return conflict
