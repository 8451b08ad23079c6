"""Bibliographic records and their copies (items)."""

import json
import re
from collections.abc import Iterable
from typing import cast

from . import (
    authority,
    dialect,
    events,
    findkeys,
    isbn,
    projector,
    records,
    search,
    search_pg,
    search_sqlite,
)
from .errors import N_, Invalid, NotFound
from .fold import sort_key
from .ids import new_id
from .models import COPY_HISTORY, OPEN_HOLDS, Bib, Event, Hold, Item, Patron
from .prepared import Prepared
from .search_query import MIN_PREFIX, parse

BIB_FIELDS = ("title", "authors", "publisher", "year", "isbn", "language", "ddc", "subjects",
              "series", "notes", "marc", "control_number", "local_history", "rare",
              "special_value", "deleted")
ITEM_FIELDS = ("bib", "barcode", "item_type", "location", "call_number", "condition",
               "accession_date", "price")
ITEM_TYPES = ("book", "periodical", "reference", "av", "map", "manuscript")
STAFF_STATUSES = ("available", "lost", "damaged", "withdrawn")
ITEM_BY_BARCODE = Prepared(Item, lambda barcode, library: Item.select().where(
    (Item.barcode == barcode) & (Item.library == library)), 2)
BIB = Prepared(Bib, lambda bib_id: Bib.select().where(Bib.id == bib_id), 1)
BARCODE_RE = re.compile(r"^[A-Za-z0-9-]{3,32}$")
DDC_RE = re.compile(r"^\d{3}(\.\d+)?$")


def normalise_isbn(text):
    """ISBN-10 or ISBN-13 without hyphens, checked; None when empty."""
    compact = isbn.compact(text)
    if not compact:
        return None
    if not isbn.valid(compact):
        raise Invalid("bad_isbn", N_("%(isbn)s is not a valid ISBN."), isbn=text)
    return compact


def _as_list(value):
    if isinstance(value, str):
        value = value.split(";")
    return [v.strip() for v in value or [] if v and v.strip()]


def clean_bib(data):
    fields = {k: data[k] for k in BIB_FIELDS if k in data}
    for name in ("authors", "subjects"):
        if name in fields:
            fields[name] = _as_list(fields[name])
    for name in ("publisher", "series", "notes", "language", "ddc", "marc", "control_number"):
        if isinstance(fields.get(name), str):
            fields[name] = fields[name].strip() or None
    if "title" in fields and not (fields["title"] or "").strip():
        raise Invalid("title_required", N_("A record needs a title."))
    if "title" in fields:
        fields["title"] = fields["title"].strip()
    if "isbn" in fields:
        fields["isbn"] = normalise_isbn(fields["isbn"])
    if fields.get("year") not in (None, ""):
        try:
            fields["year"] = int(fields["year"])
        except (TypeError, ValueError):
            raise Invalid("bad_number", N_("%(field)s must be a whole number."), field="year")
        if not 1000 <= fields["year"] <= 2100:
            raise Invalid("bad_year", N_("%(year)s is not a plausible year."), year=fields["year"])
    elif "year" in fields:
        fields["year"] = None
    if fields.get("ddc") and not DDC_RE.match(fields["ddc"]):
        raise Invalid("bad_ddc", N_("%(ddc)s is not a DDC number (like 895.9223)."),
                      ddc=fields["ddc"])
    if fields.get("language") and not re.fullmatch(r"[a-z]{3}", fields["language"]):
        raise Invalid("bad_language", N_("The language is a three-letter MARC code (vie, eng)."))
    return fields


@events.command
def save_bib(ctx, data):
    """Create (no id) or edit a record; returns the Bib row."""
    bib_id = data.get("id")
    if bib_id and not Bib.select().where(Bib.id == bib_id).exists():
        raise NotFound("bib_not_found", N_("No record %(id)s."), id=bib_id)
    fields = clean_bib(data)
    if not bib_id and "title" not in fields:
        raise Invalid("title_required", N_("A record needs a title."))
    return records.save(ctx, "bib.saved", Bib, "id", bib_id or new_id(), fields)


class Merged(NotFound):
    """A record merged into another (merge.py): its old address leads to `into`."""

    def __init__(self, bib_id, into):
        super().__init__("bib_merged", N_("Record %(id)s was merged into another record."),
                         id=bib_id)
        self.into = into


def get_bib(ctx, bib_id):
    bib = Bib.get_or_none(Bib.id == bib_id)
    if bib is not None and bib.deleted and bib.merged_into:
        raise Merged(bib_id, projector.current_bib(bib.merged_into))
    if bib is None or bib.deleted:
        raise NotFound("bib_not_found", N_("No record %(id)s."), id=bib_id)
    return bib


# A search with up to this many matches lists them in title order from the index (a
# sort of that many keys: a few ms); past it, the best `limit` by the OPAC's capped
# ranking are put in title order (sorting 60,000 matches of a common word cost 0.5 s).
TITLE_ORDER_MAX = 2000


def find_records(ctx, q, limit=50):
    """(how many records match, up to `limit` of them in Vietnamese title order, whether
    they are the best matches rather than the first by title) for staff: by ISBN
    (either form) when `q` is one; else through the OPAC's index, folded ("de men"
    finds "Dế Mèn"; the last word as a prefix when the words as typed find too few).
    With no query, the
    first records of the catalogue by title, and no count (counting 200,000 index rows
    would cost more than the page)."""
    text = (q or "").strip()
    isbn = _isbn_in(text)
    if isbn:
        found = list(Bib.select().where((Bib.isbn13 == findkeys.isbn13(isbn)) & ~Bib.deleted)
                     .order_by(Bib.created_at).limit(limit))
        return len(found), found, False
    if not text:  # the catalogue in title order: a walk of the sort key's index
        ids = [r[0] for r in dialect.run("SELECT bib_id FROM search_doc ORDER BY sort_key "
                                         "LIMIT ?", (limit,)).fetchall()]
        held = {b.id: b for b in Bib.select().where(Bib.id << ids)} if ids else {}
        return None, [held[i] for i in ids if i in held], False
    total, ids, ranked = _matches(text, limit)
    last = text.split()[-1]
    if total < limit and last[-1].isalnum() and len(last) >= MIN_PREFIX:
        # the last word typed in part, perhaps (a prefix as short as the OPAC allows)
        total, ids, ranked = _matches(text + "*", limit)
    bibs = list(Bib.select().where(Bib.id << ids)) if ids else []
    return total, sorted(bibs, key=lambda b: (sort_key(b.title), b.id)), ranked


def _matches(text, limit):
    """(total, ids, ranked): the matches in title order, or the best ranked past
    TITLE_ORDER_MAX. A prefix is tried only when the words as typed find too few: a
    common word's prefix ("van*") reaches tens of thousands more records to rank."""
    db = Bib._meta.database
    ranked = _more_matches_than(db, text, TITLE_ORDER_MAX)
    total, ids, _exact = search.search_ids(db, text, 1, limit,
                                           "relevance" if ranked else "title")
    return total, ids, ranked


def _more_matches_than(db, text, n):
    """Whether the query matches more than `n` records: its first n + 1 in the index."""
    terms = parse(text)
    if search.backend(db) is search_pg:
        query = search_pg.tsquery(terms) if terms else None
        sql = ("SELECT count(*) FROM (SELECT 1 FROM search_doc d WHERE d.folded @@ "
               "?::tsquery LIMIT ?) AS m")
    else:
        query = search_sqlite.match_expression(terms) if terms else None
        sql = ("SELECT count(*) FROM (SELECT 1 FROM search_fts WHERE search_fts MATCH ? "
               "LIMIT ?)")
    if not query:
        return False
    return dialect.run(sql, (query, n + 1)).fetchone()[0] > n


def _isbn_in(text):
    """The ISBN `text` is, when it is a whole valid one (hyphens and spaces aside)."""
    if not re.fullmatch(r"[\d\s-]{9,}[\dXx]", text or ""):
        return None
    try:
        return normalise_isbn(text)
    except Invalid:
        return None


def get_item(ctx, barcode, library=None):
    barcode = (barcode or "").strip()
    item = ITEM_BY_BARCODE.first(barcode, library or ctx.library)
    if item is None:
        raise NotFound("item_not_found", N_("No copy has barcode %(barcode)s."), barcode=barcode)
    return item


@events.command
def save_item(ctx, data):
    """Add a copy (no id) or edit one; returns the Item row."""
    if "status" in data and "condition" not in data:  # what staff set, as forms call it
        data = dict(data, condition=data["status"])
    current = Item.get_or_none(Item.id == data["id"]) if data.get("id") else None
    if data.get("id") and current is None:
        raise NotFound("item_not_found", N_("No copy has barcode %(barcode)s."),
                       barcode=data["id"])
    fields = {k: (data[k].strip() if isinstance(data[k], str) else data[k])
              for k in ITEM_FIELDS if k in data}
    library = current.library if current else data.get("library") or ctx.library
    authority.require_own(ctx, library, "copy",
                          barcode=current.barcode if current else data.get("barcode"))
    if current is None:
        fields.setdefault("item_type", "book")
        fields.setdefault("condition", "available")
        fields.setdefault("accession_date", ctx.clock.today().isoformat())
        fields["library"] = library
        if "bib" not in fields:
            raise Invalid("bib_required", N_("A copy belongs to a record."))
    if "bib" in fields:
        fields["bib"] = get_bib(ctx, fields["bib"]).id
    barcode = fields.get("barcode", current.barcode if current else None)
    if not BARCODE_RE.match(barcode or ""):
        raise Invalid("bad_barcode", N_("A barcode is 3 to 32 letters, digits or dashes."))
    clash = Item.get_or_none((Item.library == library) & (Item.barcode == barcode))
    if clash and (current is None or clash.id != current.id):
        raise Invalid("barcode_taken", N_("Barcode %(barcode)s is already in use."),
                      barcode=barcode)
    if fields.get("item_type") not in (None, *ITEM_TYPES):
        raise Invalid("bad_item_type", N_("Unknown item type: %(item_type)s."),
                      item_type=fields["item_type"])
    if "condition" in fields:
        _check_status(current, fields["condition"])
    if "price" in fields:
        fields["price"] = _price(fields["price"])
    return records.save(ctx, "item.saved", Item, "id", current.id if current else new_id(),
                        fields, library=library)


def _price(value):
    """A copy's price in whole đồng (dots and spaces as people type them), or None."""
    text = str(value if value is not None else "").replace(".", "").replace(" ", "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise Invalid("bad_price", N_("A price is a whole number of đồng."))
    return int(text)


def _check_status(current, condition):
    """What staff may set: a copy on loan or on the hold shelf may only be marked lost
    (its loan stays open until it comes back)."""
    if condition not in STAFF_STATUSES:
        raise Invalid("bad_status", N_("Staff can set a copy to available, lost, damaged or "
                                       "withdrawn."))
    if current and current.condition == condition:
        return
    if current and current.status in ("on_loan", "on_hold_shelf") and condition != "lost":
        raise Invalid("item_busy", N_("Return the copy or clear its hold first."))


@events.command
def set_status(ctx, barcode, status, library=None):
    """Staff set a copy's condition; "available" on a copy travelling home also says it
    has arrived."""
    item = get_item(ctx, barcode, library)
    if status == "available" and item.transit_to and item.library == ctx.library:
        received(ctx, item)
    return save_item(ctx, {"id": item.id, "condition": status})


@events.command
def edit_item(ctx, item, data):
    """An edit of a copy as the desk makes it, in one transaction: its fields
    (`save_item`), then its status as staff set it (`set_status`). The API's PATCH."""
    data = dict(data)
    status = data.pop("status", None)
    for name in ("barcode", "item_type"):  # these cannot be cleared
        if name in data and data[name] is None:
            raise Invalid("bad_field", N_("%(field)s must be text."), field=name)
    if data:
        item = save_item(ctx, dict(data, id=item.id))
    if status is not None:
        item = set_status(ctx, item.barcode, status, library=item.library)
    return item


def received(ctx, item):
    """A copy returned elsewhere is back home: it is no longer in transit."""
    events.record(ctx, "item.received", {"item_id": item.id, "at": ctx.clock.iso_now()},
                  library=item.library)


def holds_count(bib):
    return Hold.select().where((Hold.bib == bib.id) & (Hold.status << OPEN_HOLDS)).count()


def copy_history(item, limit=50):
    """What happened to the copy besides its loans, newest first: when it was added,
    moved, marked lost or damaged, put on the hold shelf for whom, and from which device.
    Each kind of event is found through its own partial index (models.COPY_HISTORY)."""
    db = Event._meta.database
    parts = " UNION ALL ".join(
        f"SELECT pos, wall, origin, kind, body FROM event WHERE kind = '{kind}' AND "
        f"{dialect.json_text(db, 'body', key)} = ?" for kind, key in COPY_HISTORY.items())
    rows = dialect.run(f"SELECT * FROM ({parts}) AS h ORDER BY pos DESC LIMIT ?",
                       (item.id,) * len(COPY_HISTORY) + (limit,)).fetchall()
    bodies = [json.loads(body) for *_, body in rows]
    hold_ids = [b["hold_id"] for b in bodies if "hold_id" in b]
    held_for: dict[str, str] = dict(cast(  # .tuples() yields tuples; the stubs say models
        "Iterable[tuple[str, str]]",
        Hold.select(Hold.id, Patron.card).join(Patron).where(Hold.id << hold_ids).tuples(),
    )) if hold_ids else {}
    history = []
    for (_pos, wall, origin, kind, _), body in zip(rows, bodies, strict=True):
        entry = {"at": body.get("at") or wall, "origin": origin, "kind": kind}
        if kind == "hold.trapped":
            entry.update(card=held_for.get(body["hold_id"]), pickup_by=body["pickup_by"])
        elif kind == "item.saved":
            entry.update(fields=_as_condition(body["fields"]))
        else:
            entry.update(fields={})
        history.append(entry)
    return history


def _as_condition(fields):
    """An edit of a copy as it reads now: staff's `status` was its condition."""
    if "status" in fields and "condition" not in fields:
        fields = dict(fields)
        fields["condition"] = fields.pop("status")
    return fields


def title_of(item):
    """The title of a copy's record, on the circulation path (where the copy comes with
    it, as `bib_title`)."""
    title = item.__dict__.get("bib_title")
    if title is not None:
        return title
    bib = BIB.first(item.bib_id)
    return bib.title if bib else ""
