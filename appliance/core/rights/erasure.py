"""Erasure at the patron's request: their card is removed everywhere it was synced and
their personal fields in the event log become unreadable, while every hash chain still
verifies and their loans still count for the statistics (docs/privacy.md).

- New events hold personal fields sealed with the patron's key (keys.py): erasure
  destroys the key at each node the `patron.erased` event reaches (the home library's
  devices and the hub, the only ones that held it); the ciphertext stays, hashed as
  stored, and is unreadable for good.
- Events written before sealing (and the name another library's branch received in
  clear) hold personal fields as plain text: erasure overwrites those fields with a
  tombstone in place (`shred`). An event of the device's own chain keeps its hash, so
  the chain still links, and `verify` allows its body to differ from it because a
  `patron.erased` event of the log names that patron: the erasure is the signed, hashed
  exception. A relayed event (another library's branch) is hashed again.

The command is commands.erase."""

import json

from .. import events, findkeys
from ..models import (
    Conflict,
    Event,
    FieldEdit,
    NoticeMail,
    Patron,
    PatronErasure,
    RemoteRequest,
)
from ..requests import projection as requests_projection
from . import keys

TOMBSTONE = {"erased": 1}


def erased_card(patron_id):
    """The number an erased card's stand-in holds (frees the card's own number)."""
    return "X-" + patron_id.replace("-", "")[:30]


def patron_erased(ev, body):
    """The card becomes an anonymous stand-in, the same on every node: the earliest
    erasure by clock says how, and edits that arrive later change nothing."""
    patron_id = body["patron_id"]
    held = PatronErasure.get_or_none(PatronErasure.patron == patron_id)
    keys.destroy(patron_id)
    if held is not None and held.hlc <= ev.hlc:
        return
    PatronErasure.insert(patron=patron_id, library=ev.library, hlc=ev.hlc,
                         at=body.get("at") or ev.wall).on_conflict(
        conflict_target=[PatronErasure.patron],
        update={PatronErasure.hlc: ev.hlc, PatronErasure.at: body.get("at") or ev.wall,
                PatronErasure.library: ev.library}).execute()
    row = Patron.get_or_none(Patron.id == patron_id)
    if row is not None:
        for name in keys.PERSONAL:
            if name in row._meta.fields:
                setattr(row, name, None)
        row.card, row.name = erased_card(patron_id), keys.UNREADABLE
        row.category = body.get("category") or row.category
        row.expiry, row.block_reason, row.guardian_consent = None, None, False
        row.blocked, row.keep_history, row.deleted, row.field_hlc = True, False, True, {}
        findkeys.keep_keys(row)
        row.save()
    FieldEdit.delete().where(FieldEdit.entity == patron_id).execute()
    Conflict.delete().where(Conflict.entity == patron_id).execute()
    # what other parts keep of the person: a postal address, e-mails waiting to go
    RemoteRequest.update(dict.fromkeys(requests_projection.PERSONAL)).where(
        RemoteRequest.patron == patron_id).execute()
    NoticeMail.delete().where(NoticeMail.patron == patron_id).execute()


def is_erased(patron_id):
    return PatronErasure.get_or_none(PatronErasure.patron == patron_id) is not None


# Events whose bodies hold a patron's personal data in clear: (the key naming the
# patron, where the personal values are: "fields" of a card, or the body itself).
PERSONAL_EVENTS = {"patron.saved": ("id", "fields"), "request.placed": ("patron_id", None)}


def _shredded(fields):
    """The fields with personal values still in clear replaced by the tombstone."""
    out = dict(fields)
    for name, value in fields.items():
        if name in keys.PERSONAL and value is not None and not isinstance(value, dict):
            out[name] = TOMBSTONE
    return out


def _personal(kind, body):
    """(the patron an event's personal values belong to, those values) or (None, None)."""
    named, where = PERSONAL_EVENTS.get(kind, (None, None))
    if named is None or not isinstance(body, dict):
        return None, None
    values = body.get(where) if where else body
    return body.get(named), values if isinstance(values, dict) else None


def _with(kind, body, values):
    where = PERSONAL_EVENTS[kind][1]
    return dict(body, **{where: values}) if where else values


def shred(patron_ids):
    """Overwrite the personal fields held in clear in the log's events of these patrons
    (a relayed event is hashed again; one of a chain keeps its hash: `verify` allows it).
    Returns how many events were rewritten."""
    count = 0
    keys.secure_delete()
    for patron_id in patron_ids:
        keys.destroy(patron_id)
        for ev in Event.select().where((Event.kind << list(PERSONAL_EVENTS))
                                       & Event.body.contains(patron_id)):
            body = json.loads(ev.body)
            owner, fields = _personal(ev.kind, body)
            if owner != patron_id or fields is None:
                continue
            shredded = _shredded(fields)
            if shredded == fields:
                continue
            body = _with(ev.kind, body, shredded)
            d = dict(events.to_dict(ev), body=body)
            new_hash = events.event_hash(d) if ev.relayed else ev.hash
            Event.update(body=events.canonical(body), hash=new_hash).where(
                Event.id == ev.id).execute()
            count += 1
    return count


def shows_erasure(d):
    """Whether an event's body holds shredded personal fields (and nothing else may
    differ from its hash: the fields named are personal)."""
    _owner, fields = _personal(d.get("kind"), d.get("body"))
    return fields is not None and any(
        v == TOMBSTONE for k, v in fields.items() if k in keys.PERSONAL)


def erased_owner(d):
    """The patron whose personal values an event holds (None for other events)."""
    return _personal(d.get("kind"), d.get("body"))[0]


def erased_ok(d):
    """At ingest: a shredded event is taken as sent (its erasure is in the same chain,
    and the envelope's signature vouches for the sender)."""
    return shows_erasure(d)


def erased_patrons():
    """The ids of the patrons a `patron.erased` event of the log names (for `verify`)."""
    return {json.loads(ev.body).get("patron_id") for ev in Event.select(Event.body).where(
        Event.kind == "patron.erased")}


def after_store(rows):
    """After a batch from elsewhere is stored: shred what it brought of erased patrons
    (an erasure, or an older edit of a card erased already)."""
    named = set()
    for row in rows:
        if row["kind"] in ("patron.saved", "patron.erased", "patron.key", "request.placed"):
            body = json.loads(row["body"]) if isinstance(row["body"], str) else row["body"]
            named.add(body.get("id") or body.get("patron_id"))
    named.discard(None)
    if named:
        shred([p.patron for p in PatronErasure.select(PatronErasure.patron).where(
            PatronErasure.patron << sorted(named))])
