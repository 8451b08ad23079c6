"""Catalogue search: an SQLite FTS5 index kept by `on_bib_changed`.

Every record is indexed twice: per field in folded form (no marks, đ→d) so a
query typed without diacritics finds it, and as one `exact` column in
normalised form (marks kept, one tone placement) used to rank records that
match the query's own diacritics first. The index is derived state: the
projector calls `on_bib_changed` for every record or copy event, so replaying
the log (`thuvien rebuild`) fills it again. On PostgreSQL (hub option) search
falls back to plain folded LIKE matching over title and authors.
"""

import json
import re
from dataclasses import dataclass, field

import peewee as pw

from .errors import N_, Invalid
from .fold import fold, normalize, sort_key
from .models import Bib, Item

FIELDS = ("title", "authors", "subjects", "series", "publisher", "notes", "isbn", "callno")
FIELD_ALIASES = {"title": "title", "author": "authors", "authors": "authors",
                 "subject": "subjects", "subjects": "subjects", "series": "series",
                 "publisher": "publisher", "isbn": "isbn", "callno": "callno", "call": "callno",
                 "note": "notes", "notes": "notes"}
# bm25 weights per column (bib_id, the folded fields, exact): the exact column's
# weight is so heavy that a record matching the query's own diacritics ranks first.
WEIGHTS = "0, 10.0, 6.0, 4.0, 3.0, 2.0, 1.0, 8.0, 4.0, 1000.0"
FILTER_KEYS = ("in_library", "item_type", "language", "year_from", "year_to", "available")
SORTS = ("relevance", "title", "newest")
MAX_PER_PAGE = 100


def _real(db):
    """The database behind peewee's proxy (the projector passes the proxy)."""
    return db.obj if isinstance(db, pw.DatabaseProxy) else db


def _is_sqlite(db):
    return isinstance(_real(db), pw.SqliteDatabase)


def ensure_index(db):
    """Create the index tables once per database; fill them if records predate them."""
    db = _real(db)
    if getattr(db, "_search_ready", False) or not _is_sqlite(db):
        return
    cols = ", ".join(FIELDS)
    created = not db.table_exists("search_doc")
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS search_doc (rowid INTEGER PRIMARY KEY, "
        "bib_id TEXT UNIQUE NOT NULL, sort_key TEXT, year INTEGER, language TEXT, "
        "newest TEXT)")
    # Browsing without a query sorts the whole catalogue: these keep it an index walk.
    db.execute_sql("CREATE INDEX IF NOT EXISTS search_doc_sort ON search_doc (sort_key)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS search_doc_newest ON search_doc (newest, year)")
    db.execute_sql(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(bib_id UNINDEXED, {cols}, "
        "exact, tokenize = 'unicode61 remove_diacritics 0')")
    db._search_ready = True
    if created:
        reindex(db)


def reindex(db):
    """Index every record again (after an upgrade or for a bulk repair)."""
    ensure_index(db)
    db.execute_sql("DELETE FROM search_fts")
    db.execute_sql("DELETE FROM search_doc")
    for (bib_id,) in Bib.select(Bib.id).tuples().iterator():
        on_bib_changed(db, bib_id)


BIB_COLUMNS = ("id", "title", "authors", "subjects", "series", "publisher", "notes", "isbn",
               "ddc", "year", "language", "deleted")


def _texts(bib, calls):
    calls = " ".join(sorted(set(calls) | {bib["ddc"] or ""}))
    return {
        "title": bib["title"] or "", "authors": " ; ".join(json.loads(bib["authors"] or "[]")),
        "subjects": " ; ".join(json.loads(bib["subjects"] or "[]")),
        "series": bib["series"] or "", "publisher": bib["publisher"] or "",
        "notes": bib["notes"] or "", "isbn": bib["isbn"] or "", "callno": calls,
    }


def on_bib_changed(db, bib_id):
    """Called by the projector after a record or one of its copies changed.
    Plain SQL here: it runs for every record and copy event, imports included."""
    if not _is_sqlite(db):
        return
    db = _real(db)
    ensure_index(db)
    found = db.execute_sql(f"SELECT {', '.join(BIB_COLUMNS)} FROM bib WHERE id = ?",
                           (bib_id,)).fetchone()
    bib = dict(zip(BIB_COLUMNS, found, strict=True)) if found else None
    row = db.execute_sql("SELECT rowid FROM search_doc WHERE bib_id = ?", (bib_id,)).fetchone()
    if row:
        db.execute_sql("DELETE FROM search_fts WHERE rowid = ?", (row[0],))
    if bib is None or bib["deleted"] or not bib["title"]:
        if row:
            db.execute_sql("DELETE FROM search_doc WHERE rowid = ?", (row[0],))
        return
    items = db.execute_sql("SELECT call_number, accession_date FROM item WHERE bib_id = ?",
                           (bib_id,)).fetchall()
    newest = max((i[1] or "" for i in items), default="")
    values = (bib_id, sort_key(bib["title"]), bib["year"], bib["language"], newest)
    if row:
        rowid = row[0]
        db.execute_sql("UPDATE search_doc SET bib_id=?, sort_key=?, year=?, language=?, "
                       "newest=? WHERE rowid=?", (*values, rowid))
    else:
        rowid = db.execute_sql("INSERT INTO search_doc (bib_id, sort_key, year, language, "
                               "newest) VALUES (?, ?, ?, ?, ?)", values).lastrowid
    texts = _texts(bib, [i[0] for i in items if i[0]])
    exact = normalize(" ".join(texts.values()))
    db.execute_sql(_INSERT_SQL, (rowid, bib_id, *(fold(texts[f]) for f in FIELDS), exact))


_INSERT_SQL = (f"INSERT INTO search_fts (rowid, bib_id, {', '.join(FIELDS)}, exact) "
               f"VALUES (?, ?, {', '.join('?' * len(FIELDS))}, ?)")


# --- queries ------------------------------------------------------------------

_TERM_RE = re.compile(r'(?:(\w+):)?(?:"([^"]*)"|(\S+))')


@dataclass
class Term:
    words: list
    column: str | None = None
    prefix: bool = False


@dataclass
class Query:
    terms: list = field(default_factory=list)


def _tokens(text):
    return [t for t in re.split(r"[^\w]+", text) if t]


def parse(q):
    """`title:"truyện kiều" author:du hoa*` → terms (column, words, prefix)."""
    terms = []
    for m in _TERM_RE.finditer(q or ""):
        name, phrase, word = m.group(1), m.group(2), m.group(3)
        column = FIELD_ALIASES.get((name or "").lower())
        if name and column is None:  # "ha:noi" is a word, not a field
            phrase, word = None, f"{name}:{phrase if phrase is not None else word}"
        text = phrase if phrase is not None else word
        prefix = phrase is None and text.endswith("*")
        words = _tokens(text)
        if words:
            terms.append(Term(words, column, prefix))
    return terms


def _fts_string(words, prefix):
    quoted = '"' + " ".join(w.replace('"', "") for w in words) + '"'
    return quoted + (" *" if prefix else "")


def match_expression(terms, exact=False):
    """The FTS5 MATCH text: folded field columns, or the `exact` column."""
    parts = []
    for t in terms:
        words = [normalize(w) for w in t.words] if exact else [fold(w) for w in t.words]
        words = [w for w in words if w]
        if not words:
            continue
        if exact:
            cols = "exact"
        else:
            cols = "{" + (t.column or " ".join(FIELDS)) + "}"
        parts.append(f"{cols} : {_fts_string(words, t.prefix)}")
    return " AND ".join(parts)


def _item_filter(filters):
    conds, args = [], []
    for key, column in (("in_library", "library"), ("item_type", "item_type")):
        if filters.get(key):
            conds.append(f"i.{column} = ?")
            args.append(filters[key])
    if filters.get("available"):
        conds.append("i.status = 'available'")
    if not conds:
        return "", []
    return (" AND EXISTS (SELECT 1 FROM item i WHERE i.bib_id = d.bib_id AND "
            + " AND ".join(conds) + ")", args)


def _doc_filter(filters):
    conds, args = [], []
    if filters.get("language"):
        conds.append("d.language = ?")
        args.append(filters["language"])
    for key, op in (("year_from", ">="), ("year_to", "<=")):
        if filters.get(key) not in (None, ""):
            conds.append(f"d.year {op} ?")
            args.append(int(filters[key]))
    return "".join(" AND " + c for c in conds), args


def _hits_sql(terms, filters):
    """(FROM/WHERE clause, args) selecting matching documents as `d` (and `f`)."""
    match = match_expression(terms)
    where, args = "1", []
    if match:
        source = "search_fts f JOIN search_doc d ON d.rowid = f.rowid"
        where, args = "search_fts MATCH ?", [match]
    else:
        source = "search_doc d"
    dsql, dargs = _doc_filter(filters)
    isql, iargs = _item_filter(filters)
    return f"FROM {source} WHERE {where}{dsql}{isql}", args + dargs + iargs


def _order(sort):
    if sort == "newest":
        return "d.newest DESC, d.year DESC, d.rowid DESC"
    return "d.sort_key, d.rowid"


def _ranked_expression(terms):
    """One MATCH that finds what the folded expression finds and lets bm25 rank
    records carrying the query's own diacritics first: each term also matches the
    heavily weighted `exact` column. A phrase or field term keeps its folded match
    required, since the exact column spans every field."""
    parts = []
    for t in terms:
        folded = match_expression([t])
        exact = match_expression([t], exact=True)
        if not folded:
            continue
        if not exact:
            parts.append(folded)
        elif t.column is None and len(t.words) == 1:
            parts.append(f"({folded} OR {exact})")
        else:
            parts.append(f"({folded} AND ({exact} OR {folded}))")
    return " AND ".join(parts)


def _filtered(filters):
    return any(filters.get(k) not in (None, "", False) for k in FILTER_KEYS)


def search_ids(db, q, page=1, per_page=20, sort="relevance", **filters):
    """(total, [bib_id, ...]) for one page of results, straight from the index.
    The page and the total come from one query (a window count)."""
    ensure_index(db)
    terms = parse(q)
    if q and q.strip() and not terms:
        return 0, []
    limit = [per_page, (page - 1) * per_page]
    sql, args = _hits_sql(terms, filters)
    order = _order(sort)
    if not terms:
        # Browsing: the page is an index walk, which a window count would turn into a
        # sort of the whole catalogue; counting apart is cheaper.
        total = db.execute_sql(f"SELECT count(*) {sql}", args).fetchone()[0]
        rows = db.execute_sql(f"SELECT d.bib_id {sql} ORDER BY {order} LIMIT ? OFFSET ?",
                              args + limit).fetchall()
        return total, [r[0] for r in rows]
    if sort == "relevance":
        rows = _ranked_page(db, terms, filters, limit)
    else:
        rows = db.execute_sql(f"SELECT d.bib_id, count(*) OVER () {sql} ORDER BY {order} "
                              "LIMIT ? OFFSET ?", args + limit).fetchall()
    if rows:
        return rows[0][1], [r[0] for r in rows]
    return db.execute_sql(f"SELECT count(*) {sql}", args).fetchone()[0], []


def _ranked_page(db, terms, filters, limit):
    rank = [_ranked_expression(terms), f"bm25({WEIGHTS})"]
    if not _filtered(filters):
        # Only the FTS table: SQLite sorts by rank inside FTS5 and reads no row it drops.
        hits = db.execute_sql(
            "SELECT rowid, count(*) OVER () FROM search_fts WHERE search_fts MATCH ? "
            "AND rank MATCH ? ORDER BY rank LIMIT ? OFFSET ?", rank + limit).fetchall()
        if not hits:
            return []
        ids = dict(db.execute_sql(
            f"SELECT rowid, bib_id FROM search_doc WHERE rowid IN ({','.join('?' * len(hits))})",
            [h[0] for h in hits]).fetchall())
        return [(ids[r], total) for r, total in hits if r in ids]
    dsql, dargs = _doc_filter(filters)
    isql, iargs = _item_filter(filters)
    return db.execute_sql(
        "SELECT d.bib_id, count(*) OVER () FROM search_fts f JOIN search_doc d ON "
        f"d.rowid = f.rowid WHERE search_fts MATCH ? AND f.rank MATCH ?{dsql}{isql} "
        "ORDER BY f.rank LIMIT ? OFFSET ?", rank + dargs + iargs + limit).fetchall()


def facets(db, q, **filters):
    """Counts per library, item type, language and decade, and how many are available."""
    ensure_index(db)
    sql, args = _hits_sql(parse(q), filters)
    out = {}
    out["language"] = db.execute_sql(
        f"SELECT d.language, count(*) {sql} AND d.language IS NOT NULL GROUP BY 1 "
        "ORDER BY 2 DESC LIMIT 20", args).fetchall()
    out["decade"] = db.execute_sql(
        f"SELECT (d.year / 10) * 10, count(*) {sql} AND d.year IS NOT NULL GROUP BY 1 "
        "ORDER BY 1 DESC LIMIT 20", args).fetchall()
    joined = sql.replace(" WHERE ", " JOIN item i ON i.bib_id = d.bib_id WHERE ", 1)
    for name in ("library", "item_type"):
        out[name] = db.execute_sql(
            f"SELECT i.{name}, count(DISTINCT d.bib_id) {joined} GROUP BY 1 ORDER BY 2 DESC "
            "LIMIT 20", args).fetchall()
    available = _item_filter({"available": True})[0]
    out["available"] = db.execute_sql(f"SELECT count(*) {sql}{available}", args).fetchone()[0]
    return {k: [list(r) for r in v] if isinstance(v, list) else v for k, v in out.items()}


def availability(bib_id, library=None):
    return availabilities([bib_id], library)[bib_id]


def availabilities(bib_ids, library=None):
    """{bib_id: {"total", "available"}} for many records in one grouped query."""
    out = {b: {"total": 0, "available": 0} for b in bib_ids}
    if not bib_ids:
        return out
    db = Item._meta.database
    sql = (f"SELECT bib_id, count(*), sum(status = 'available') FROM item WHERE bib_id IN "
           f"({', '.join([db.param] * len(bib_ids))})")
    args = list(bib_ids)
    if library:
        sql += f" AND library = {db.param}"
        args.append(library)
    for bib_id, total, available in db.execute_sql(sql + " GROUP BY bib_id", args).fetchall():
        out[bib_id] = {"total": total, "available": int(available or 0)}
    return out


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
    """Sort, page size and filters of `search` from query arguments (a mapping of
    strings), checked: a bad value raises Invalid rather than being ignored."""
    opts = {}
    sort = (args.get("sort") or "relevance").strip()
    if sort not in SORTS:
        raise Invalid("bad_sort", N_("Sort by %(choices)s."), choices=", ".join(SORTS))
    opts["sort"] = sort
    for key in ("per_page", "year_from", "year_to"):
        value = (args.get(key) or "").strip()
        if not value:
            continue
        low, high = (1, MAX_PER_PAGE) if key == "per_page" else (0, 9999)
        if not value.isdigit() or not low <= int(value) <= high:
            raise Invalid("bad_number", N_("%(field)s must be a whole number from %(low)s to "
                                           "%(high)s."), field=key, low=low, high=high)
        opts[key] = int(value)
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


def search(q, page=1, per_page=20, library=None, sort="relevance", with_facets=False,
           **filters):
    """The catalogue search the API and the OPAC call.

    `library` scopes availability counts; filters: in_library (records with a copy
    there; library_only=True means `library`), item_type, language, year_from,
    year_to, available (a copy on the shelf, within the other copy filters)."""
    db = _real(Bib._meta.database)
    page = max(1, int(page or 1))
    per_page = max(1, min(int(per_page or 20), MAX_PER_PAGE))
    sort = sort if sort in SORTS else "relevance"
    if filters.pop("library_only", False) and library:
        filters["in_library"] = library
    if not _is_sqlite(db):
        return _like_search(q, page, per_page, library)
    total, ids = search_ids(db, q, page, per_page, sort, **filters)
    bibs = {b.id: b for b in Bib.select().where(Bib.id << ids)} if ids else {}
    out = {"total": total, "page": page, "per_page": per_page,
           "results": _results([bibs[i] for i in ids if i in bibs], library)}
    if with_facets:
        out["facets"] = facets(db, q, **filters)
    return out


def _like_search(q, page, per_page, library):
    """PostgreSQL fallback: every word must appear in the title or the authors."""
    query = Bib.select().where(~Bib.deleted & (Bib.title != ""))
    for word in (q or "").split():
        if ":" in word:
            word = word.split(":", 1)[1]
        word = word.strip('"*')
        query = query.where(Bib.title.contains(word) | Bib.authors.contains(word))
    total = query.count()
    rows = query.order_by(Bib.title).paginate(page, per_page)
    return {"total": total, "page": page, "per_page": per_page,
            "results": _results(list(rows), library)}
