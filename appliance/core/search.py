"""Catalogue search, the one interface the API, the OPAC and the projector use.

Two indexes stand behind it over the same folded and normalised forms
(`fold.py`): SQLite FTS5 (`search_sqlite`) on a branch or a small hub, and a
`tsvector` with a GIN index (`search_pg`) on a hub on PostgreSQL. Both are derived
state: the projector calls `on_bib_changed` for every record or copy event, so
replaying the log (`thuvien rebuild`) fills them again. The tables are made by
the schema and its migrations (`db.py`).
"""

from contextlib import contextmanager

import peewee as pw

from . import search_pg, search_sqlite
from .errors import N_, DomainError, Invalid
from .inputs import optional_number, whole_number
from .models import Bib, Item
from .search_query import TimedOut, facet_counts, facets_from, parse

SORTS = ("relevance", "title", "newest")
MAX_PER_PAGE = 100
# The OPAC's facets count the best this many hits of a search, as the page orders them:
# counting every hit of a common word (tens of thousands of records, each copy's status
# read for "on the shelf") cost a catalogue of 200,000 records 100-250 ms a page. Below
# it the counts are exact; above it the page says they are from the first FACET_HITS.
FACET_HITS = 500
# A search reaches at most its first MAX_RESULTS hits (page × per_page: page 100 of
# 20): they are the ones both indexes rank among for a common word (RANK_CAP), while a
# deeper page ranks every match (a second and more on a large catalogue), and nobody
# reads page 5,000. Narrowing the search reaches the rest.
MAX_RESULTS = 2000
# Every search stops after this long, whatever it was asked (the caps of
# search_query keep an honest one far below it): one costly search must not hold a
# server thread, let alone all of them.
SEARCH_SECONDS = 2.0


def _real(db):
    """The database behind peewee's proxy (the projector passes the proxy)."""
    return db.obj if isinstance(db, pw.DatabaseProxy) else db


def backend(db):
    """The index module for this database."""
    return search_pg if isinstance(_real(db), pw.PostgresqlDatabase) else search_sqlite


def create_index(db):
    """The index tables (the schema and a migration call this)."""
    backend(db).create_index(_real(db))


def rebuild_index(db):
    """Drop the index tables, make them again and index every record."""
    db = _real(db)
    backend(db).drop_index(db)
    create_index(db)
    reindex(db)


def reindex(db):
    """Index every record again (after an upgrade or for a bulk repair)."""
    db = _real(db)
    backend(db).clear_index(db)
    for (bib_id,) in Bib.select(Bib.id).tuples().iterator():
        on_bib_changed(db, bib_id)


def on_bib_changed(db, bib_id):
    """Called by the projector after a record or one of its copies changed."""
    db = _real(db)
    backend(db).on_bib_changed(db, bib_id)


def search_ids(db, q, page=1, per_page=20, sort="relevance", docs=False, **filters):
    """(total, [bib_id, ...], whether the total is exact) for one page of results,
    straight from the index (PostgreSQL estimates the total of a very common query).
    With `docs`, each hit is the row of FACET_COLUMNS the index holds for it."""
    db = _real(db)
    terms = parse(q)
    if q and q.strip() and not terms:
        return 0, [], True
    return backend(db).search_ids(db, terms, page, per_page, sort, filters, docs)


def availability(bib_id, library=None):
    return availabilities([bib_id], library)[bib_id]


def availabilities(bib_ids, library=None):
    """{bib_id: {"total", "available"}} for many records in one query. Counted here, not
    grouped in SQL with `library = ?`: given that condition SQLite would walk every copy
    of the library (its index) rather than the few copies of these records."""
    out = {b: {"total": 0, "available": 0} for b in bib_ids}
    if not bib_ids:
        return out
    db = Item._meta.database
    rows = db.execute_sql(f"SELECT bib_id, library, status FROM item WHERE bib_id IN "
                          f"({', '.join([db.param] * len(bib_ids))})", list(bib_ids))
    for bib_id, held_by, status in rows.fetchall():
        if library is None or held_by == library:
            out[bib_id]["total"] += 1
            out[bib_id]["available"] += status == "available"
    return out


def on_the_shelf(bib_ids):
    """How many of these records have a copy on the shelf (in one query)."""
    if not bib_ids:
        return 0
    db = Item._meta.database
    return db.execute_sql(f"SELECT count(DISTINCT bib_id) FROM item WHERE status = "
                          f"'available' AND bib_id IN ({', '.join([db.param] * len(bib_ids))})",
                          list(bib_ids)).fetchone()[0]


def copies(bib_id):
    return copies_of([bib_id])[bib_id]


def copies_of(bib_ids):
    """{bib_id: [copy, ...]} for many records in one query."""
    out: dict[str, list[dict]] = {b: [] for b in bib_ids}
    if bib_ids:
        for i in (Item.select().where(Item.bib << list(bib_ids))
                  .order_by(Item.library, Item.barcode)):
            out[i.bib_id].append({
                "barcode": i.barcode, "library": i.library, "location": i.location,
                "call_number": i.call_number, "item_type": i.item_type, "status": i.status})
    return out


def _results(bibs, library):
    counts = availabilities([b.id for b in bibs], library)
    return [{"bib_id": b.id, "title": b.title, "authors": b.authors, "year": b.year,
             "isbn": b.isbn, "language": b.language, "publisher": b.publisher,
             "availability": counts[b.id]} for b in bibs]


def search_options(args):
    """Sort, page, page size and filters of `search` from query arguments (a mapping of
    strings), checked: a bad value raises Invalid rather than being ignored."""
    opts = {}
    sort = (args.get("sort") or "relevance").strip()
    if sort not in SORTS:
        raise Invalid("bad_sort", N_("Sort by %(choices)s."), choices=", ".join(SORTS))
    opts["sort"] = sort
    for key, low, high in (("page", 1, MAX_RESULTS), ("per_page", 1, MAX_PER_PAGE),
                           ("year_from", 0, 9999), ("year_to", 0, 9999)):
        value = optional_number(args.get(key), key, low, high)
        if value is not None:
            opts[key] = value
    for key in ("in_library", "item_type", "language"):
        value = (args.get(key) or "").strip()
        if len(value) > 32:
            raise Invalid("bad_filter", N_("%(field)s is too long."), field=key)
        if value:
            opts[key] = value
    available = (args.get("available") or "").strip().lower()
    if available not in ("", "0", "1", "true", "false", "yes", "no", "on", "off"):
        raise Invalid("bad_filter", N_("%(field)s is yes or no."), field="available")
    if available in ("1", "true", "yes", "on"):
        opts["available"] = True
    return opts


def last_page(per_page):
    """The deepest page a search of `per_page` hits a page may ask for."""
    return max(1, MAX_RESULTS // per_page)


@contextmanager
def time_limit(db, seconds=None):
    """Bound the searching done in the block (SEARCH_SECONDS); past it, DomainError
    `search_timeout` (503: the search was fine, this server could not finish it)."""
    try:
        with backend(db).time_limit(_real(db), SEARCH_SECONDS if seconds is None else seconds):
            yield
    except TimedOut:
        raise DomainError("search_timeout", N_("The search took too long and was stopped. "
                                               "Search with fewer or longer words."),
                          http_status=503)


def search(q, page=1, per_page=20, library=None, sort="relevance", with_facets=False,
           **filters):
    """The catalogue search the API and the OPAC call.

    `library` scopes availability counts; filters: in_library (records with a copy
    there; library_only=True means `library`), item_type, language, year_from,
    year_to, available (a copy on the shelf, within the other copy filters)."""
    db = _real(Bib._meta.database)
    per_page = whole_number(per_page or 20, "per_page", 1, MAX_PER_PAGE)
    page = whole_number(page or 1, "page", 1, last_page(per_page))
    sort = sort if sort in SORTS else "relevance"
    if filters.pop("library_only", False) and library:
        filters["in_library"] = library
    with time_limit(db):
        if with_facets:
            total, ids, exact, out_facets = _page_and_facets(db, q, page, per_page, sort,
                                                             filters)
        else:
            total, ids, exact = search_ids(db, q, page, per_page, sort, **filters)
    bibs = {b.id: b for b in Bib.select().where(Bib.id << ids)} if ids else {}
    out = {"total": total, "total_exact": exact, "page": page, "per_page": per_page,
           "results": _results([bibs[i] for i in ids if i in bibs], library)}
    if with_facets:
        out["facets"] = out_facets
    return out


def _page_and_facets(db, q, page, per_page, sort, filters):
    """(total, page ids, exact, facets) from one query for the best FACET_HITS hits, or
    as many as reach the end of the page (at most MAX_RESULTS): the page is a slice of
    them, and the facets count the best FACET_HITS from the rows that query read (a
    deep page asked apart read every match twice). `facets["counted"]` says how many
    hits were counted."""
    start = (page - 1) * per_page
    total, docs, exact = search_ids(db, q, 1, max(FACET_HITS, start + per_page), sort,
                                    docs=True, **filters)
    ids = [d[0] for d in docs[start:start + per_page]]
    docs = docs[:FACET_HITS]
    best = [d[0] for d in docs]
    # Asked for records on the shelf, every hit has a copy there: nothing to look up.
    shelf = len(best) if filters.get("available") else on_the_shelf(best)
    counted = facets_from(docs, shelf) if best else facet_counts([])
    counted["counted"] = len(best)
    return total, ids, exact, counted
