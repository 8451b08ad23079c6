"""Patron data stays home: what a branch of another library may hold of a town-wide card.

A patron's PIN hash, phone, e-mail, birth year, guardian and anything a later version
adds to the card stay on the home library's devices and the hub. Another library's
branch gets what lending there needs and no more: the card, the name shown at the desk,
the category the loan rules go by, the expiry and the blocks. The list is an allow-list,
so a field added to the card later (an address) stays home until it is named here.

`for_branch` is the one function every path that ships events to a branch goes through
(the hub's answer over the link and its USB export both page with `sync.receive.pull`);
the schema migration that clears what branches already hold uses the same `redact`, so a
rewritten event and the one the hub sends later are the same event, byte for byte.
"""

from __future__ import annotations

import json
import logging

from .events import canonical, event_hash, to_dict
from .models import Conflict, Event, Patron, PatronKey, database_proxy
from .rights import keys

log = logging.getLogger(__name__)

# What a branch of another library receives of a patron card (and its per-field clocks).
LENDING_FIELDS = frozenset({"card", "name", "category", "expiry", "blocked", "block_reason",
                            "library", "deleted"})
_BODY_KEYS = ("id", "at", "fields", "base")  # a patron.saved body, as records.save makes it


def redact_body(body: dict) -> dict:
    """A patron.saved body with only the lending fields. Fields left out are not set to
    nothing: the projector leaves a field an event does not name as it is, so a redacted
    edit can never wipe what the home library holds."""
    out = {k: body[k] for k in _BODY_KEYS if k in body}
    for key in ("fields", "base"):
        if isinstance(out.get(key), dict):
            out[key] = {k: v for k, v in out[key].items() if k in LENDING_FIELDS}
    return out


def _name_opened(body: dict) -> dict:
    """A redacted body's name as another library's desk shows it: a name sealed with the
    patron's key (rights/keys.py) is opened here (the hub holds the key) or left out;
    the key never leaves home."""
    name = (body.get("fields") or {}).get("name")
    if not keys.is_sealed(name):
        return body
    value = keys.open_value(body.get("id"), "name", name)
    fields = dict(body["fields"])
    fields["name"] = keys.UNREADABLE if value is None else value  # (a card needs a name)
    return dict(body, fields=fields)


def redact(d: dict) -> dict:
    """An event (as `events.to_dict` gives it) as a branch of another library may hold it.

    The hash is the redacted event's own: a branch checks a relayed event's hash against
    what it holds (its chain is checked at the hub, which holds it whole), and the hub's
    signature over the answer vouches for the redaction."""
    if d.get("kind") == "patron.key":  # the key stays home
        return {k: v for k, v in d.items() if k != "key"}
    if d.get("kind") != "patron.saved" or not isinstance(d.get("body"), dict):
        return d
    body = _name_opened(redact_body(d["body"]))
    if body == d["body"]:
        return d
    out = dict(d, body=body)
    out["hash"] = event_hash(out)
    return out


def for_branch(d: dict, library: str) -> dict:
    """The event as a device of `library` may receive it: whole at the patron's home
    library (a patron.saved event's library is the card's, authority.py sees to it),
    redacted anywhere else."""
    return d if d.get("library") == library else redact(d)


def is_private(model_name: str, field: str) -> bool:
    return model_name == "Patron" and field not in LENDING_FIELDS


# The migration: what a branch already holds of other libraries' patrons.

_CLEARED = {"pin_hash": None, "phone": None, "email": None, "guardian": None,
            "guardian_consent": False, "birth_year": None, "keep_history": False, "suggestions": False}


def purge(home_library: str, origin: str | None) -> dict:
    """Clear, at a branch of `home_library`, the private data of other libraries' patrons:
    in the event log (relayed patron.saved events rewritten as the hub now sends them), in
    the cards themselves, and in edit conflicts that kept a private value. State stays
    equal to a rebuild from the log.

    Events this device made itself are its chain and are not rewritten; a card such an
    event edited (only possible before the authority rule) keeps what the log gives it."""
    others = Event.select().where((Event.kind == "patron.saved") &
                                  (Event.library != home_library))
    own_edits = {json.loads(ev.body).get("id") for ev in others
                 if not ev.relayed or ev.origin == origin}
    for ev in others.order_by(Event.pos):
        if not ev.relayed or ev.origin == origin or json.loads(ev.body).get("id") in own_edits:
            continue
        d = redact(to_dict(ev))
        if d["hash"] != ev.hash:
            Event.update(body=canonical(d["body"]), hash=d["hash"]).where(
                Event.id == ev.id).execute()
    if PatronKey.table_exists():  # (made by migration 25: none before it)
        PatronKey.delete().where(PatronKey.library != home_library).execute()
    cleared = 0
    cleared_here = {k: v for k, v in _CLEARED.items() if k in _held_names(Patron)}
    for patron in Patron.select(*_held(Patron)).where(Patron.library != home_library):
        if patron.id in own_edits:
            log.warning("privacy: card %s of %s was edited here; its data stays as the log "
                        "has it", patron.card, patron.library)
            continue
        stamps = {k: v for k, v in (patron.field_hlc or {}).items() if k in LENDING_FIELDS}
        Patron.update(field_hlc=stamps, **cleared_here).where(Patron.id == patron.id).execute()
        cleared += 1
    dropped = 0
    for conflict in Conflict.select(*_held(Conflict)).where(
            (Conflict.kind == "edit_conflict") & (Conflict.library != home_library)):
        details = conflict.details or {}
        if conflict.entity not in own_edits and is_private(details.get("model", ""),
                                                             details.get("field", "")):
            conflict.delete_instance()
            dropped += 1
    return {"cards": cleared, "conflicts": dropped}


# Migration 7 runs on a database as schema 6 left it: the columns later steps add (a
# patron's e-mail for a guardian, a conflict's resolver...) are not there yet, and come
# empty when they are added. So it reads and clears only the columns the table has.
def _held(model) -> list:
    names = _held_names(model)
    return [f for f in model._meta.sorted_fields if f.column_name in names]


def _held_names(model) -> set[str]:
    return {c.name for c in database_proxy.obj.get_columns(model._meta.table_name)}
