"""What a stocktake found: each copy seen sorted by what it says about the shelves, and
the copies expected that nobody saw.

- **missing**: in scope, expected on the shelf (not on loan, travelling, lost or
  withdrawn), not seen;
- **misplaced**: this library's copy seen, but it belongs under another location or
  call-number range;
- **unexpected**: another library's copy, a barcode no copy here has, or a copy marked
  lost or withdrawn that was found (staff put it back on the shelf with one click);
- **on loan**: in scope but lent out, so not expected; one seen on the shelf all the
  same is flagged (`on_loan_seen`).
"""

from ..fold import fold
from ..models import Bib, Item, Stocktake, StocktakeSeen

VERDICTS = ("ok", "misplaced", "other_library", "unknown", "found_lost", "found_withdrawn",
            "on_loan")
UNEXPECTED = ("other_library", "unknown", "found_lost", "found_withdrawn")
EXPECTED_CONDITIONS = ("available", "damaged")
AWAY = ("on_loan", "in_transit")


def call_key(text):
    """A call number as ranges compare it: folded, spaces squeezed."""
    return " ".join(fold(text or "").split())


def in_range(call_number, call_from, call_to):
    """Whether a call number is in [from, to]; `to` takes every number it begins
    ("899" takes "899.1 NG-A")."""
    key = call_key(call_number)
    if call_from and key < call_key(call_from):
        return False
    if call_to:
        top = call_key(call_to)
        if key > top and not key.startswith(top):
            return False
    return True


def in_scope(st, item):
    """Whether `item` belongs on the shelves `st` counts."""
    if item.library != st.library:
        return False
    if st.location and call_key(item.location) != call_key(st.location):
        return False
    if (st.call_from or st.call_to) and not in_range(item.call_number, st.call_from,
                                                     st.call_to):
        return False
    return True


def verdict(st, item):
    """What a copy seen on the shelves says (item None: no copy here has its barcode)."""
    if item is None:
        return "unknown"
    if item.library != st.library:
        return "other_library"
    if item.condition == "lost":
        return "found_lost"
    if item.condition == "withdrawn":
        return "found_withdrawn"
    if item.status == "on_loan":
        return "on_loan"
    return "ok" if in_scope(st, item) else "misplaced"


def _copies(where):
    return list(Item.select(Item, Bib.title).join(Bib, on=(Item.bib == Bib.id))
                .where(where).objects())


def _entry(item, barcode=None, why=None, seen=None, owner=None):
    return {"item_id": item.id if item else None,
            "barcode": item.barcode if item else barcode,
            "library": item.library if item else owner,
            "title": item.title if item else None,
            "location": item.location if item else None,
            "call_number": item.call_number if item else None,
            "condition": item.condition if item else None,
            "status": item.status if item else None,
            "why": why, "seen": seen}


def compute(st):
    """The result of `st` from the rows held now (an open stocktake's progress, or what
    the finishing desk records)."""
    rows = list(StocktakeSeen.select().where(StocktakeSeen.stocktake == st.id)
                .order_by(StocktakeSeen.hlc))
    seen_ids = {r.item for r in rows if r.item}
    mine = _copies(Item.library == st.library)
    held = {c.id for c in mine}
    strangers = [i for i in seen_ids if i not in held]
    others = _copies(Item.id << strangers) if strangers else []
    by_id = {c.id: c for c in mine + others}
    scope = [c for c in mine if in_scope(st, c)]
    lists: dict[str, list[dict]] = {"missing": [], "misplaced": [], "unexpected": [],
                                     "on_loan": []}
    expected = found = 0
    for c in scope:
        if c.condition in EXPECTED_CONDITIONS and c.status not in AWAY:
            expected += 1
            if c.id not in seen_ids:
                lists["missing"].append(_entry(c))
        elif c.status == "on_loan" and c.condition not in ("lost", "withdrawn"):
            lists["on_loan"].append(_entry(c, seen=c.id in seen_ids))
    for r in rows:
        item = by_id.get(r.item) if r.item else None
        why = verdict(st, item) if item or not r.owner else "other_library"
        if why == "ok":
            found += 1
        elif why == "misplaced":
            lists["misplaced"].append(_entry(item))
        elif why in UNEXPECTED:
            lists["unexpected"].append(_entry(item, r.barcode, why, owner=r.owner))
        elif why == "on_loan" and not in_scope(st, item):  # in scope: listed above
            lists["on_loan"].append(_entry(item, seen=True))
    for name in ("missing", "misplaced", "on_loan"):
        lists[name].sort(key=lambda e: (call_key(e["call_number"]), e["barcode"]))
    return {"expected": expected, "seen": len(rows), "found": found, **lists}


def counts(result):
    return {"expected": result["expected"], "seen": result["seen"], "found": result["found"],
            **{name: len(result[name]) for name in ("missing", "misplaced", "unexpected")},
            "on_loan": len(result["on_loan"]),
            "on_loan_seen": sum(1 for e in result["on_loan"] if e["seen"])}


# The record kept in the finish event: ids and barcodes, the rest looked up when shown
# (titles can be long; the event travels over slow links).

def snapshot(result):
    return {"expected": result["expected"], "seen": result["seen"], "found": result["found"],
            "missing": [[e["item_id"], e["barcode"]] for e in result["missing"]],
            "misplaced": [[e["item_id"], e["barcode"]] for e in result["misplaced"]],
            "unexpected": [[e["item_id"], e["barcode"], e["why"], e["library"]]
                           for e in result["unexpected"]],
            "on_loan": [[e["item_id"], e["barcode"], e["seen"]] for e in result["on_loan"]]}


def from_snapshot(snap):
    """A finished stocktake's result as recorded, each copy with what it is now (so the
    record shows which missing copies were since marked lost)."""
    ids = [e[0] for name in ("missing", "misplaced", "unexpected", "on_loan")
           for e in snap.get(name, ()) if e[0]]
    now = {c.id: c for c in _copies(Item.id << ids)} if ids else {}
    out = {k: snap.get(k, 0) for k in ("expected", "seen", "found")}
    out["missing"] = [_entry(now.get(i), b) for i, b in snap.get("missing", ())]
    out["misplaced"] = [_entry(now.get(i), b) for i, b in snap.get("misplaced", ())]
    out["unexpected"] = [_entry(now.get(i) if i else None, b, why, owner=library)
                         for i, b, why, library in snap.get("unexpected", ())]
    out["on_loan"] = [_entry(now.get(i), b, seen=s) for i, b, s in snap.get("on_loan", ())]
    return out


def of(st):
    """The result to show: the record of a finished stocktake, the live one of an open
    one; with the scans that arrived after it was finished counted apart."""
    if st.finished_at and st.result is not None:
        out = from_snapshot(st.result)
        out["late"] = StocktakeSeen.select().where(
            (StocktakeSeen.stocktake == st.id) & (StocktakeSeen.hlc > st.finished_hlc)).count()
        return out
    out = compute(st)
    out["late"] = 0
    return out


def stocktake(stocktake_id):
    return Stocktake.get_or_none(Stocktake.id == stocktake_id)
