"""Two records of one book: the warning before a second is saved, and the merge that
makes them one.

The warning looks up the indexed keys the projector keeps (findkeys.py): the same ISBN
(an ISBN-10 and its ISBN-13 are one), or the same title and first author once folded
(no marks, any case, punctuation aside). A merge is one event, `bib.merged`, which the
projector applies (projector.bib_merged): the copies and holds of the retired record
move to the kept one, and the retired record's address leads there."""

from . import catalogue, events, findkeys, records
from .errors import N_, Invalid
from .models import Bib, Hold, Item

MAX_SHOWN = 5


def likely_duplicates(data, exclude=None, editing=False):
    """Records already held that look like the one in `data` (a form's fields, as
    catalogue.clean_bib takes them), best match first: the same ISBN, then the same
    title and first author, other than `exclude`. `editing`: `data` is an edit of
    `exclude`, which warns only when it changes the title, first author or ISBN (its
    likely duplicates were said when it was made, and its page lists them)."""
    fields = catalogue.clean_bib({k: v for k, v in data.items() if k in catalogue.BIB_FIELDS})
    isbn = findkeys.isbn13(fields.get("isbn"))
    key = findkeys.dup_key(fields.get("title"), fields.get("authors") or [])
    held = Bib.get_or_none(Bib.id == exclude) if exclude and editing else None
    if held is not None and (held.isbn13, held.dup_key) == (isbn, key):
        return []  # an edit that leaves title, author and ISBN be: warned when it was made
    live = ~Bib.deleted & (Bib.title != "")
    if exclude:
        live &= Bib.id != exclude
    found = []
    if isbn:
        found += list(Bib.select().where(live & (Bib.isbn13 == isbn))
                      .order_by(Bib.created_at).limit(MAX_SHOWN))
    if key:
        seen = {b.id for b in found}
        found += [b for b in Bib.select().where(live & (Bib.dup_key == key))
                  .order_by(Bib.created_at).limit(MAX_SHOWN) if b.id not in seen]
    return found[:MAX_SHOWN]


@events.command
def merge(ctx, kept_id, retired_id):
    """Make two records one: `retired_id`'s copies and holds go to `kept_id`, which
    stays. Returns the kept record."""
    kept = catalogue.get_bib(ctx, kept_id)
    retired = catalogue.get_bib(ctx, retired_id)
    if kept.id == retired.id:
        raise Invalid("merge_same", N_("A record cannot be merged with itself."))
    body = {"kept": kept.id, "retired": retired.id, "at": ctx.clock.iso_now(),
            "copies": Item.select().where(Item.bib == retired.id).count(),
            "holds": Hold.select().where(Hold.bib == retired.id).count()}
    if (who := records.acting.get()) is not None:
        body["actor"] = who
    events.record(ctx, "bib.merged", body, library=ctx.library)
    return catalogue.get_bib(ctx, kept.id)
