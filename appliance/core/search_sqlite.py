"""Catalogue search on SQLite: an FTS5 index kept by `on_bib_changed`.

Every record is indexed twice: per field in folded form (no marks, đ→d) so a
query typed without diacritics finds it, and as one `exact` column in
normalised form (marks kept, one tone placement) used to rank records that
match the query's own diacritics first. `search_doc` holds what sorts, filters
and facets read per record (title key, year, language, newest copy, the
libraries and item types of its copies), so facets never join the copies.
"""

import json
import time
from contextlib import contextmanager
from dataclasses import replace

import peewee as pw

from .fold import fold, normalize, sort_key
from .search_query import (
    BIB_COLUMNS,
    FACET_COLUMNS,
    FIELDS,
    ITEM_COLUMNS,
    TimedOut,
    copy_summary,
    doc_filter,
    filtered,
    indexable,
    item_filter,
    texts,
)

# bm25 weights per column (bib_id, the folded fields, exact): the exact column's
# weight is so heavy that a record matching the query's own diacritics ranks first.
WEIGHTS = "0, 10.0, 6.0, 4.0, 3.0, 2.0, 1.0, 8.0, 4.0, 1000.0"
DOC_COLUMNS = ("bib_id", "sort_key", "year", "language", "newest", "libraries", "item_types")
# A page of a search is ranked among about this many matches, widened to hold this many
# of each tier (`_lowest_rowid`).
RANK_CAP = 2000
TIER_HITS = 100
# "On the shelf" counts at most this many hits exactly (`_counted`).
SHELF_COUNT = 5000


def create_index(db):
    cols = ", ".join(FIELDS)
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS search_doc (rowid INTEGER PRIMARY KEY, "
        "bib_id TEXT UNIQUE NOT NULL, sort_key TEXT, year INTEGER, language TEXT, "
        "newest TEXT, libraries TEXT, item_types TEXT)")
    # Browsing without a query sorts the whole catalogue: these keep it an index walk.
    db.execute_sql("CREATE INDEX IF NOT EXISTS search_doc_sort ON search_doc (sort_key)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS search_doc_newest ON search_doc (newest, year)")
    db.execute_sql(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(bib_id UNINDEXED, {cols}, "
        "exact, tokenize = 'unicode61 remove_diacritics 0')")


def drop_index(db):
    db.execute_sql("DROP TABLE IF EXISTS search_fts")
    db.execute_sql("DROP TABLE IF EXISTS search_doc")


def clear_index(db):
    db.execute_sql("DELETE FROM search_fts")
    db.execute_sql("DELETE FROM search_doc")


def doc_values(bib, items):
    """(search_doc values in DOC_COLUMNS order, search_fts values after rowid) of a
    record and its copies: what `on_bib_changed` writes, for bulk loaders too."""
    summary = copy_summary(items)
    doc = (bib["id"], sort_key(bib["title"]), bib["year"], bib["language"], summary["newest"],
           json.dumps(summary["libraries"]), json.dumps(summary["item_types"]))
    fields = texts(bib, [i["call_number"] for i in items if i["call_number"]])
    exact = normalize(" ".join(fields.values()))
    return doc, (bib["id"], *(fold(fields[f]) for f in FIELDS), exact)


def on_bib_changed(db, bib_id):
    """Plain SQL here: it runs for every record and copy event, imports included."""
    found = db.execute_sql(f"SELECT {', '.join(BIB_COLUMNS)} FROM bib WHERE id = ?",
                           (bib_id,)).fetchone()
    bib = dict(zip(BIB_COLUMNS, found, strict=True)) if found else None
    row = db.execute_sql("SELECT rowid FROM search_doc WHERE bib_id = ?", (bib_id,)).fetchone()
    if row:
        db.execute_sql("DELETE FROM search_fts WHERE rowid = ?", (row[0],))
    if not indexable(bib):
        if row:
            db.execute_sql("DELETE FROM search_doc WHERE rowid = ?", (row[0],))
        return
    items = [dict(zip(ITEM_COLUMNS, r, strict=True)) for r in db.execute_sql(
        f"SELECT {', '.join(ITEM_COLUMNS)} FROM item WHERE bib_id = ?", (bib_id,)).fetchall()]
    doc, fts = doc_values(bib, items)
    if row:
        rowid = row[0]
        db.execute_sql(f"UPDATE search_doc SET {', '.join(c + '=?' for c in DOC_COLUMNS)} "
                       "WHERE rowid=?", (*doc, rowid))
    else:
        rowid = db.execute_sql(INSERT_DOC_SQL, doc).lastrowid
    db.execute_sql(INSERT_FTS_SQL, (rowid, *fts))


INSERT_DOC_SQL = (f"INSERT INTO search_doc ({', '.join(DOC_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(DOC_COLUMNS))})")
INSERT_FTS_SQL = (f"INSERT INTO search_fts (rowid, bib_id, {', '.join(FIELDS)}, exact) "
                  f"VALUES (?, ?, {', '.join('?' * len(FIELDS))}, ?)")


@contextmanager
def time_limit(db, seconds):
    """Interrupt this connection's statements once `seconds` have passed: SQLite calls
    the handler every PROGRESS_STEPS steps of a statement, and a true answer stops it
    (an OperationalError whose text depends on where it stopped); TimedOut then."""
    conn = db.connection()
    deadline = time.monotonic() + seconds
    fired = []

    def past_deadline():
        if time.monotonic() >= deadline:
            fired.append(True)
        return bool(fired)

    conn.set_progress_handler(past_deadline, PROGRESS_STEPS)
    try:
        yield
    except pw.DatabaseError:
        if fired:
            raise TimedOut() from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


PROGRESS_STEPS = 1000


# --- queries ------------------------------------------------------------------

def _fts_string(words, prefix):
    quoted = '"' + " ".join(w.replace('"', "") for w in words) + '"'
    return quoted + (" *" if prefix else "")


def match_expression(terms, exact=False):
    """The FTS5 MATCH text: folded field columns, or the `exact` column. A term with
    other spellings matches any of them."""
    parts = []
    for t in terms:
        cols = "exact" if exact else "{" + (t.column or " ".join(FIELDS)) + "}"
        each = []
        for spelling in t.spellings():
            words = [normalize(w) for w in spelling] if exact else [fold(w) for w in spelling]
            words = [w for w in words if w]
            if words:
                each.append(f"{cols} : {_fts_string(words, t.prefix)}")
        if len(each) > 1:
            parts.append("(" + " OR ".join(each) + ")")
        elif each:
            parts.append(each[0])
    return " AND ".join(parts)


def _holds(column, value):
    """The record's JSON list of its copies' libraries or item types holds `value`."""
    return f"instr(d.{column}, ?) > 0", json.dumps(value)


def _hits_sql(terms, filters):
    """(FROM/WHERE clause, args) selecting matching documents as `d` (and `f`)."""
    match = match_expression(terms)
    where, args = "1", []
    if match:
        source = "search_fts f JOIN search_doc d ON d.rowid = f.rowid"
        where, args = "search_fts MATCH ?", [match]
    else:
        source = "search_doc d"
    dsql, dargs = doc_filter(filters)
    isql, iargs = item_filter(filters, _holds, unindexed="+")
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


def search_ids(db, terms, page, per_page, sort, filters, docs=False):
    """(total, [bib_id, ...], True: the total is exact) for one page of results, straight
    from the index; with `docs`, each hit is its row of FACET_COLUMNS."""
    limit = [per_page, (page - 1) * per_page]
    sql, args = _hits_sql(terms, filters)
    order = _order(sort)
    cols = FACET_COLUMNS if docs else "d.bib_id"
    if not terms or filters.get("available"):
        # Browsing: the page is an index walk, which a window count would turn into a
        # sort of the whole catalogue; counting apart is cheaper. So it is when each
        # match's copies are read for "on the shelf" (`_counted`).
        total, exact = _counted(db, terms, filters)
        if sort == "relevance" and terms:
            return *_ranked_page(db, terms, filters, limit, docs, total), exact
        rows = db.execute_sql(f"SELECT {cols} {sql} ORDER BY {order} LIMIT ? OFFSET ?",
                              args + limit).fetchall() if total else []
        return total, _hits(rows, docs), exact
    if sort == "relevance":
        return (*_ranked_page(db, terms, filters, limit, docs), True)
    rows = db.execute_sql(f"SELECT {cols}, count(*) OVER () {sql} ORDER BY {order} "
                          "LIMIT ? OFFSET ?", args + limit).fetchall()
    if rows:
        return rows[0][-1], _hits([r[:-1] for r in rows], docs), True
    return db.execute_sql(f"SELECT count(*) {sql}", args).fetchone()[0], [], True


def _hits(rows, docs):
    return [tuple(r) for r in rows] if docs else [r[0] for r in rows]


def _fts_hits(match, filters):
    """(FROM/WHERE, args) of the index rows `f` matching `match` and the filters; the
    record's row `d` is joined only when a filter reads it."""
    if not filtered(filters):
        return "FROM search_fts f WHERE search_fts MATCH ?", [match]
    dsql, dargs = doc_filter(filters)
    isql, iargs = item_filter(filters, _holds, unindexed="+")
    return ("FROM search_fts f JOIN search_doc d ON d.rowid = f.rowid WHERE search_fts "
            f"MATCH ?{dsql}{isql}", [match] + dargs + iargs)


def _tiers(terms):
    """The matches a page must be able to draw on: those with every word in the title,
    and, when the query carries diacritics, those matching them as typed (the exact
    column's weight ranks them first)."""
    out = [match_expression([replace(t, column=t.column or "title") for t in terms])]
    if any(normalize(w) != fold(w) for t in terms for w in t.words):
        out.append(match_expression(terms, exact=True))
    return [m for m in out if m]


def _lowest_rowid(db, terms, filters):
    """The lowest index row a capped search ranks from.

    Ranking reads each candidate's positions and size: every match of a common word
    (40,000-60,000 of 200,000 records) costs 50-100 ms. A common query is ranked among
    its newest RANK_CAP matches (FTS5 walks its rows newest first without ranking),
    widened so that they hold at least TIER_HITS matches of each tier (or all of them):
    the records that rank first are there when they exist. The candidates do not depend
    on the page, so paging within them neither repeats nor skips a record."""
    low = None
    for k, match in ((RANK_CAP, match_expression(terms)),
                     *((TIER_HITS, m) for m in _tiers(terms))):
        sql, args = _fts_hits(match, filters)
        found = db.execute_sql(f"SELECT min(rowid) FROM (SELECT f.rowid {sql} "
                               "ORDER BY f.rowid DESC LIMIT ?)", args + [k]).fetchone()[0]
        if found is not None:
            low = found if low is None else min(low, found)
    return low or 0


def _counted(db, terms, filters):
    """(total, exact) of the hits. "On the shelf" reads every match's copies: counting
    the 100,000 matches of a common word (or a whole catalogue browsed) cost 0.6-1.3 s
    on 200,000 records. With it, the newest SHELF_COUNT hits are counted, and a total
    beyond them is estimated: their share of the matches walked to find them, times
    the matches the other filters keep (counted without reading a copy)."""
    sql, args = _count_sql(terms, filters)
    if not filters.get("available"):
        return db.execute_sql(f"SELECT count(*) {sql}", args).fetchone()[0], True
    rowid = "f.rowid" if terms else "d.rowid"
    found, low = db.execute_sql(f"SELECT count(*), min(r) FROM (SELECT {rowid} AS r {sql} "
                                f"ORDER BY {rowid} DESC LIMIT ?)",
                                args + [SHELF_COUNT + 1]).fetchone()
    if found <= SHELF_COUNT:
        return found, True
    sql, args = _count_sql(terms, dict(filters, available=False))
    every, walked = db.execute_sql(f"SELECT count(*), sum({rowid} >= ?) {sql}",
                                   [low] + args).fetchone()
    estimate = found * every / max(walked, 1)
    digits = max(0, len(str(int(estimate))) - 2)  # an estimate, and it says so
    return max(found, int(round(estimate, -digits))), False


def _count_sql(terms, filters):
    if terms:
        return _fts_hits(match_expression(terms), filters)
    return _hits_sql(terms, filters)


def _ranked_page(db, terms, filters, limit, docs, total=None):
    """(total, [bib_id, ...]): the total counted (no ranking, a few ms) unless given, the
    page ranked by bm25 among the candidates `_lowest_rowid` bounds, or among every
    match for a page past RANK_CAP."""
    sql, args = _fts_hits(match_expression(terms), filters)
    if total is None:
        total = db.execute_sql(f"SELECT count(*) {sql}", args).fetchone()[0]
    if not total or limit[1] >= total:
        return total, []
    capped = limit[0] + limit[1] <= RANK_CAP < total
    low = _lowest_rowid(db, terms, filters) if capped else 0
    sql, args = _fts_hits(_ranked_expression(terms), filters)
    rows = db.execute_sql(
        f"SELECT f.rowid {sql} AND f.rank MATCH ? AND f.rowid >= ? ORDER BY f.rank "
        "LIMIT ? OFFSET ?", args + [f"bm25({WEIGHTS})", low] + limit).fetchall()
    if not rows:
        return total, []
    found = {r[0]: r[1:] for r in db.execute_sql(
        f"SELECT d.rowid, {FACET_COLUMNS if docs else 'd.bib_id'} FROM search_doc d WHERE "
        f"d.rowid IN ({','.join('?' * len(rows))})", [r[0] for r in rows]).fetchall()}
    return total, _hits([found[r] for (r,) in rows if r in found], docs)
