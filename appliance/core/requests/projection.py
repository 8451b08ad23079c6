"""The projector's handlers for request events (projector.HANDLERS names them).

One row per request. The state is the furthest any event took it (states.wins); every
other field is set by the earliest event, by clock, that names it (`field_hlc`), so the
same events in any order leave the same row, and a step that arrives before the request
itself (from a desk whose events overtook it) fills its fields in all the same."""

from ..models import PatronErasure, RemoteRequest
from . import states

# What each event kind sets besides the state: body key -> column.
FIELDS = {
    "request.placed": ("library", "patron", "kind", "bib", "document", "title", "pages",
                       "purpose", "address", "placed_at", "lang"),
    "request.refused": ("reason",),
    "request.ready": ("sha256", "size", "page_count", "expires_at"),
    "request.lent": ("loan_id", "due_date"),
}
BODY_KEY = {"patron": "patron_id", "bib": "bib_id", "document": "document_id",
            "placed_at": "at"}
# What a request holds of the person, which their erasure clears (rights/erasure.py): a
# request placed before the erasure but arriving after it is not given it back.
PERSONAL = ("address",)


def _row(ev, body):
    row = RemoteRequest.get_or_none(RemoteRequest.id == body["request_id"])
    if row is None:  # its placing is on its way: that event fills the rest in
        row = RemoteRequest.create(id=body["request_id"], library=body["library"],
                                   patron=body.get("patron_id") or "", kind=body.get("kind")
                                   or "copy", state="", state_hlc=ev.hlc, field_hlc={})
    return row


def applied(ev, body):
    row = _row(ev, body)
    stamps = dict(row.field_hlc or {})
    changes = {}
    erased = ev.kind == "request.placed" and PatronErasure.select().where(
        PatronErasure.patron == body.get("patron_id")).exists()
    for column in FIELDS.get(ev.kind, ()):
        key = BODY_KEY.get(column, column)
        if key in body and (column not in stamps or ev.hlc < stamps[column]):
            kept = None if erased and column in PERSONAL else body[key]
            changes[column], stamps[column] = kept, ev.hlc
    if ev.kind == "request.placed":
        changes["placed_hlc"] = ev.hlc
    state = states.EVENT_STATE[ev.kind]
    if row.state == "" or states.wins(state, ev.hlc, row.state, row.state_hlc):
        changes.update(state=state, state_hlc=ev.hlc, actor=body.get("actor"),
                       updated_at=body.get("at") or ev.wall)
    if changes:
        changes["field_hlc"] = stamps
        RemoteRequest.update(changes).where(RemoteRequest.id == row.id).execute()


HANDLERS = dict.fromkeys(states.EVENT_STATE, applied)
