"""Saving a record (library, patron, bib, item) as an event carrying only the
changed fields and the field stamps the editor saw, so concurrent edits can be told
from sequential ones when events from elsewhere arrive."""

from contextvars import ContextVar

from . import events
from .prepared import by_key
from .rights import keys

# The staff account on whose behalf this thread edits records; the web layer sets it on
# every request (threads are reused, so it is set to None for nobody). It goes into the
# event so that a hub that quarantines an edit can say who typed it.
acting: ContextVar[str | None] = ContextVar("acting", default=None)


def save(ctx, kind, model, key, record_id, fields, library=None):
    lookup = by_key(model, key)
    row = lookup.first(record_id)
    if row is not None:
        fields = {k: v for k, v in fields.items() if getattr(row, k) != v}
        if not fields:
            return row
    if kind == "patron.saved":  # personal fields sealed with the patron's key
        fields = keys.seal_fields(ctx, record_id, library or ctx.library, fields)
    body = {"id": record_id, "fields": fields, "at": ctx.clock.iso_now(), "new": row is None}
    if (who := acting.get()) is not None:
        body["actor"] = who
    if row is not None:  # an edit: which of its fields' values the editor saw
        stamps = row.field_hlc or {}
        body["base"] = {k: stamps.get(k, 0) for k in fields}
    events.record(ctx, kind, body, library=library)
    return lookup.first(record_id)
