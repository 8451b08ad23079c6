"""The stocktake's commands: start, scan, finish, and what staff do with the result
(mark the missing copies lost, put a found copy back on the shelf). Each validates and
records under the write lock, like every command, so desks scanning at once never count
a copy twice."""

import re

from .. import catalogue, dialect, events
from ..errors import N_, Forbidden, Invalid, NotFound, Refused
from ..ids import new_id
from ..models import Item, Library, Stocktake, StocktakeSeen
from ..prepared import Prepared
from . import projection, result

MAX_CODES = 500  # one call: a pad's worth of tags, or a batch read from a file
ISIL = re.compile(r"^[A-Z]{2}-(.+)$")
BY_BARCODE_ANYWHERE = Prepared(Item, lambda barcode: Item.select().where(
    Item.barcode == barcode).order_by(Item.library), 1)
SEEN = Prepared(StocktakeSeen, lambda seen_id: StocktakeSeen.select(StocktakeSeen.id).where(
    StocktakeSeen.id == seen_id), 1)
SEEN_COUNT = "SELECT COUNT(*) FROM stocktake_seen WHERE stocktake = ?"
STOCKTAKE = Prepared(Stocktake, lambda st_id: Stocktake.select().where(Stocktake.id == st_id), 1)


def _text(value, limit=64):
    text = (value or "").strip() if isinstance(value, str) or value is None else str(value)
    if len(text) > limit:
        raise Invalid("too_long", N_("%(text)s… is too long: at most %(limit)s characters."),
                      text=text[:20], limit=limit)
    return text or None


@events.command
def start(ctx, location=None, call_from=None, call_to=None, note=None, actor=None):
    """A new stocktake of this library's shelves: all of them, one location, a range of
    call numbers, or a range within a location."""
    if ctx.role == "hub":
        raise Forbidden("hub_stocktake", N_("A stocktake is taken at the library's own "
                                            "desk; the hub only shows them."))
    scope = {"location": _text(location, 255), "call_from": _text(call_from),
             "call_to": _text(call_to)}
    if scope["call_from"] and scope["call_to"] and \
            result.call_key(scope["call_from"]) > result.call_key(scope["call_to"]):
        raise Invalid("bad_range", N_("The call-number range runs backwards: %(start)s comes "
                                      "after %(end)s."),
                      start=scope["call_from"], end=scope["call_to"])
    st_id = new_id()
    events.record(ctx, "stocktake.started", {
        "stocktake_id": st_id, "library": ctx.library, "scope": scope,
        "note": _text(note, 255), "at": ctx.clock.iso_now(), "actor": actor},
        library=ctx.library)
    return Stocktake.get(Stocktake.id == st_id)


def get(ctx, stocktake_id):
    """A stocktake this desk may see: its own library's (the hub: any library's)."""
    st = STOCKTAKE.first(str(stocktake_id or "").strip()) if stocktake_id else None
    if st is None or st.started_at == "" or (ctx.role != "hub" and st.library != ctx.library):
        raise NotFound("stocktake_not_found", N_("No stocktake %(id)s here."),
                       id=stocktake_id or "")
    return st


def current(ctx):
    """The open stocktake, when there is exactly one (what the command line scans into
    when none is named)."""
    open_ = list(Stocktake.select().where((Stocktake.library == ctx.library)
                                          & Stocktake.finished_at.is_null()
                                          & (Stocktake.started_at != ""))
                 .order_by(Stocktake.started_hlc.desc()).limit(2))
    if len(open_) != 1:
        raise NotFound("no_current_stocktake", N_("Name the stocktake: %(count)s are open.")
                       if open_ else N_("No stocktake is open: start one first."),
                       count=len(open_))
    return open_[0]


def listed(ctx, library=None):
    where = Stocktake.started_at != ""
    if ctx.role != "hub" or library:
        where &= Stocktake.library == (library or ctx.library)
    return list(Stocktake.select().where(where).order_by(Stocktake.started_hlc.desc()))


def _open(ctx, stocktake_id):
    st = get(ctx, stocktake_id)
    if st.library != ctx.library:
        raise Forbidden("other_library_stocktake", N_("Only library %(library)s takes stock "
                                                      "of its shelves."), library=st.library)
    if st.finished_at:
        raise Refused("stocktake_finished", N_("This stocktake is finished: start a new one "
                                               "to count again."))
    return st


def _owner(owner, library):
    """The library an RFID tag's owner names: "VN-PY-DH01" (country, dash, ISIL) or
    "PY-DH01" (no country) -> "PY-DH01". A code that is a library's as it stands is
    taken whole, so a library code with a dash is never cut."""
    owner = (_text(owner, 32) or "").upper()
    if not owner or owner == library:
        return owner or None
    match = ISIL.match(owner)
    if match is None or Library.get_or_none(Library.code == owner) is not None:
        return owner
    return match.group(1)


def _resolve(st, barcode, owner):
    """The copy a scan names: this library's by barcode (or the library its tag names);
    else another library's copy held here with that barcode."""
    item = catalogue.ITEM_BY_BARCODE.first(barcode, owner or st.library)
    if item is None and owner is None:
        item = BY_BARCODE_ANYWHERE.first(barcode)
    return item


def _codes(codes, library):
    out = []
    for code in codes:
        raw = code if isinstance(code, dict) else {"barcode": code}
        barcode = _text(raw.get("barcode"))
        if not barcode:
            continue
        out.append((barcode, _owner(raw.get("owner"), library)))
    if not out:
        raise Invalid("no_barcode", N_("Scan a barcode or lay copies on the pad."))
    if len(out) > MAX_CODES:
        raise Invalid("too_many_codes", N_("At most %(limit)s copies at a time."),
                      limit=MAX_CODES)
    return out


@events.command
def scan(ctx, stocktake_id, codes, via="scanner", actor=None):
    """Copies seen on the shelves: barcodes typed or scanned, or the tags the pad read at
    once ({"barcode", "owner"}). One event for all that are new; a copy seen before
    (here or at another desk) is answered and not counted again. Returns one answer per
    code: barcode, verdict (result.VERDICTS), again, and the copy's title and place."""
    st = _open(ctx, stocktake_id)
    answers, new, named = [], [], set()
    for barcode, owner in _codes(codes, st.library):
        item = _resolve(st, barcode, owner)
        foreign = owner if owner and owner != st.library else None
        sid = projection.seen_id(st.id, item.id if item else None, barcode,
                                 None if item else foreign)
        again = sid in named or SEEN.first(sid) is not None
        if not again:
            named.add(sid)
            new.append({"item_id": item.id if item else None, "barcode": barcode,
                        "owner": None if item else foreign})
        answers.append(_answer(st, item, barcode, again, foreign))
    if new:
        events.record(ctx, "stocktake.seen", {
            "stocktake_id": st.id, "library": st.library, "seen": new, "via": via,
            "at": ctx.clock.iso_now(), "actor": actor}, library=st.library)
    return answers


def seen_count(stocktake_id):
    """How many copies a stocktake has seen (the figure the scan page keeps up to date)."""
    return dialect.run(SEEN_COUNT, (stocktake_id,)).fetchone()[0]


def _answer(st, item, barcode, again, owner=None):
    why = result.verdict(st, item)
    if item is None and owner:
        why = "other_library"
    answer = {"barcode": barcode, "verdict": why, "again": again,
              "library": item.library if item else owner}
    if item is not None:
        answer.update(title=catalogue.title_of(item), location=item.location,
                      call_number=item.call_number, condition=item.condition,
                      status=item.status)
    return answer


@events.command
def finish(ctx, stocktake_id, actor=None):
    """Close the stocktake and record its result as this desk sees it now."""
    st = _open(ctx, stocktake_id)
    found = result.compute(st)
    events.record(ctx, "stocktake.finished", {
        "stocktake_id": st.id, "library": st.library, "at": ctx.clock.iso_now(),
        "actor": actor, "result": result.snapshot(found)}, library=st.library)
    return get(ctx, st.id)


@events.command
def mark_missing_lost(ctx, stocktake_id, actor=None):
    """Every copy the finished stocktake found missing, and still on the shelf as far as
    the catalogue knows, marked lost: one event each, all in one transaction."""
    st = get(ctx, stocktake_id)
    if st.library != ctx.library:
        raise Forbidden("other_library_stocktake", N_("Only library %(library)s takes stock "
                                                      "of its shelves."), library=st.library)
    if not st.finished_at:
        raise Refused("stocktake_open", N_("Finish the stocktake first: until then a copy "
                                           "not yet scanned is not missing."))
    marked = []
    for item_id, barcode in (st.result or {}).get("missing", ()):
        item = Item.get_or_none(Item.id == item_id)
        if item is None or item.condition not in result.EXPECTED_CONDITIONS \
                or item.status in result.AWAY:
            continue  # marked already, lent, or gone since the count
        catalogue.save_item(ctx, {"id": item.id, "condition": "lost"})
        marked.append(barcode)
    return marked


@events.command
def put_back(ctx, stocktake_id, barcode, actor=None):
    """A copy marked lost or withdrawn that the stocktake found: back on the shelf."""
    st = get(ctx, stocktake_id)
    item = catalogue.ITEM_BY_BARCODE.first(_text(barcode) or "", ctx.library)
    if item is None or st.library != ctx.library:
        raise NotFound("item_not_found", N_("No copy has barcode %(barcode)s."),
                       barcode=barcode)
    seen_row = SEEN.first(projection.seen_id(st.id, item.id, item.barcode))
    if seen_row is None:
        raise Refused("not_seen", N_("Copy %(barcode)s was not seen in this stocktake."),
                      barcode=item.barcode)
    if item.condition not in ("lost", "withdrawn"):
        raise Refused("not_lost", N_("Copy %(barcode)s is not marked lost or withdrawn."),
                      barcode=item.barcode)
    return catalogue.set_status(ctx, item.barcode, "available")
