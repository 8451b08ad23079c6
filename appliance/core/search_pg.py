"""Catalogue search on PostgreSQL (the town hub): a `tsvector` index over the same
folded and normalised forms the SQLite index holds.

The vectors are built here rather than by a text search configuration, so both
databases split words alike and no extension is needed. `folded` carries every
field's folded words, weighted title A, authors B, subjects C, the rest D, with a
gap between fields so a phrase never spans two; the D fields also carry their words
tagged with the field (`ca|895`) so `callno:` or `isbn:` match only there. `exact`
carries the normalised words (marks kept, one tone placement): records matching the
query's own diacritics rank first. A GIN index serves `@@`. A prefix (`hoa*`) is
sought as the indexed words it stands for, looked up in `search_word` (see `_expansions`).
"""

from contextlib import contextmanager

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
    indexable,
    item_filter,
    texts,
    tokens,
)

WEIGHT = {"title": "A", "authors": "B", "subjects": "C"}
TAG = {"series": "se", "publisher": "pu", "notes": "no", "isbn": "is", "callno": "ca"}
# ts_rank weights for D, C, B, A (subjects, authors, title as SQLite's bm25 weighs them).
RANK_WEIGHTS = "'{0.2, 0.4, 0.6, 1.0}'"
DOC_COLUMNS = ("bib_id", "sort_key", "year", "language", "newest", "libraries", "item_types",
               "folded", "exact")
MAX_POSITION = 16383  # PostgreSQL's own limit on a word's position
MAX_WORD = 200  # longer "words" (a pasted hash, a URL) are neither indexed nor sought:
#                 PostgreSQL refuses a lexeme over 2 kB
# A search reads at most this many matches (see search_ids); a total beyond them is
# estimated from a sample of about SAMPLE_ROWS records.
RANK_CAP = 2000
SAMPLE_ROWS = 5000
# A query that at least this share of the sampled records match reads its newest matches
# by the primary key instead of through the GIN index (see _capped).
SCAN_SHARE = 0.05
# "On the shelf" looks up each sampled match's copies, 10-15 us each on a loaded hub:
# 5,000 of them were half the time of such a search. The share of the sample's matches
# with a copy on the shelf is measured on SHELF_SAMPLE of them (see _on_the_shelf).
SHELF_SAMPLE = 1000
# A prefix standing for at most this many indexed words is sought as those words; a
# wider one as a prefix (`:*`). GIN answers a prefix by reading every posting of every
# word it covers into a bitmap before anything else (50-70 ms for "ngu* thi*" on 200,000
# records), while named words let it skip through the rarest term's postings (14 ms).
MAX_EXPANSION = 64

P = "%s"


def create_index(db):
    # sort_key is built for code-point order: the "C" collation keeps it so.
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS search_doc (id BIGSERIAL PRIMARY KEY, "
        "bib_id TEXT UNIQUE NOT NULL, sort_key TEXT COLLATE \"C\", year INTEGER, "
        "language TEXT, newest TEXT, libraries TEXT[] NOT NULL DEFAULT '{}', "
        "item_types TEXT[] NOT NULL DEFAULT '{}', folded TSVECTOR NOT NULL, "
        "exact TSVECTOR NOT NULL)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS search_doc_folded ON search_doc "
                   "USING gin (folded)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS search_doc_sort ON search_doc (sort_key, id)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS search_doc_newest ON search_doc "
                   "(newest, year, id)")
    # Every word the folded vectors hold, in code-point order: what a prefix stands for
    # is a range of it. Words are added as records are indexed and never taken out: a
    # word no record holds any longer matches nothing, so seeking it changes no result.
    db.execute_sql("CREATE TABLE IF NOT EXISTS search_word (word TEXT COLLATE \"C\" "
                   "PRIMARY KEY)")


def fill_words(db):
    """The words of every indexed record into `search_word` (after a bulk load)."""
    db.execute_sql("INSERT INTO search_word (word) SELECT DISTINCT unnest(tsvector_to_array("
                   "folded)) FROM search_doc ON CONFLICT DO NOTHING")


def drop_index(db):
    db.execute_sql("DROP TABLE IF EXISTS search_doc")
    db.execute_sql("DROP TABLE IF EXISTS search_word")


def clear_index(db):
    db.execute_sql("DELETE FROM search_doc")
    db.execute_sql("DELETE FROM search_word")


def _vector(entries):
    """A tsvector literal from (lexeme, position, weight) entries."""
    by_word: dict[str, list] = {}
    for word, pos, weight in entries:
        by_word.setdefault(word, []).append(f"{min(pos, MAX_POSITION)}{weight}")
    return " ".join(f"'{w}':{','.join(p)}" for w, p in by_word.items())


def vectors(fields):
    """(folded, exact) tsvector literals of a record's {field: text}."""
    folded, exact, pos = [], [], 1
    for name in FIELDS:
        weight, tag = WEIGHT.get(name, "D"), TAG.get(name)
        for word in tokens(normalize(fields[name])):
            if len(word) > MAX_WORD:
                continue
            exact.append((word, pos, ""))
            for plain in tokens(fold(word)):
                folded.append((plain, pos, weight))
                if tag:
                    folded.append((f"{tag}|{plain}", pos, weight))
            pos += 1
        pos += 1  # a gap: no phrase spans two fields
    return _vector(folded), _vector(exact)


def doc_values(bib, items):
    """search_doc values in DOC_COLUMNS order for a record and its copies: what
    `on_bib_changed` writes, for bulk loaders too (vectors as tsvector literals)."""
    summary = copy_summary(items)
    fields = texts(bib, [i["call_number"] for i in items if i["call_number"]])
    return (bib["id"], sort_key(bib["title"]), bib["year"], bib["language"],
            summary["newest"], summary["libraries"], summary["item_types"], *vectors(fields))


# The record's row, and its words into search_word (in the vector's sorted order, so
# that two writers adding the same new words wait for each other, never deadlock).
_UPSERT_SQL = (
    f"WITH doc AS (INSERT INTO search_doc ({', '.join(DOC_COLUMNS)}) VALUES "
    f"({', '.join([P] * (len(DOC_COLUMNS) - 2))}, {P}::tsvector, {P}::tsvector) "
    "ON CONFLICT (bib_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in DOC_COLUMNS[1:])
    + " RETURNING folded) INSERT INTO search_word (word) SELECT unnest(tsvector_to_array("
    "folded)) FROM doc ON CONFLICT DO NOTHING")


def on_bib_changed(db, bib_id):
    found = db.execute_sql(f"SELECT {', '.join(BIB_COLUMNS)} FROM bib WHERE id = %s",
                           (bib_id,)).fetchone()
    bib = dict(zip(BIB_COLUMNS, found, strict=True)) if found else None
    if not indexable(bib):
        db.execute_sql("DELETE FROM search_doc WHERE bib_id = %s", (bib_id,))
        return
    items = [dict(zip(ITEM_COLUMNS, r, strict=True)) for r in db.execute_sql(
        f"SELECT {', '.join(ITEM_COLUMNS)} FROM item WHERE bib_id = %s", (bib_id,)).fetchall()]
    db.execute_sql(_UPSERT_SQL, doc_values(bib, items))


@contextmanager
def time_limit(db, seconds):
    """Every statement of the block is cancelled by the server once it has run `seconds`
    (`SET LOCAL statement_timeout`, in a transaction or a savepoint of the caller's):
    TimedOut then. Put back on the way out, so that a caller's own statements after it
    are not bound; on a time-out the rollback puts it back."""
    try:
        with _settings(db, statement_timeout=f"{max(1, int(seconds * 1000))}ms"):
            yield
    except pw.DatabaseError as e:
        if getattr(getattr(e, "orig", e), "pgcode", None) == "57014":  # query_canceled
            raise TimedOut() from None
        raise


@contextmanager
def _settings(db, **values):
    """The block runs with these settings (`SET LOCAL`, in a savepoint), put back on the
    way out (on an error, the savepoint's rollback puts them back): a search may run
    inside a caller's transaction. Read and set in one statement, as every round trip
    costs a loaded hub milliseconds."""
    names = list(values)
    sets = ", ".join(f"set_config('{n}', {P}, true)" for n in names)
    with db.atomic():
        before = db.execute_sql(
            "SELECT " + ", ".join(f"current_setting('{n}')" for n in names) + f", {sets}",
            list(values.values())).fetchone()[:len(names)]
        yield
        db.execute_sql(f"SELECT {sets}", before)


# --- queries ------------------------------------------------------------------

def _words(words, term, exact):
    """The lexemes of a term's words as the index holds them (tagged with the field)."""
    words = [normalize(w) for w in words] if exact else [fold(w) for w in words]
    words = [w for t in words for w in tokens(t) if len(w) <= MAX_WORD]
    tag = None if exact else TAG.get(term.column)
    return [f"{tag}|{w}" if tag else w for w in words]


def _lexemes(words, term, exact, expansions=None):
    words = _words(words, term, exact)
    if not words:
        return []
    weight = "" if exact or term.column is None else WEIGHT.get(term.column, "")
    out = [f"'{w}'" for w in words]
    marks = ("*" if term.prefix else "") + weight
    if marks:
        out[-1] += ":" + marks
    if weight and len(out) > 1:  # every word of a field phrase in that field
        out = [o if o.endswith(marks) else f"{o}:{weight}" for o in out]
    named = (expansions or {}).get(words[-1]) if term.prefix else None
    if named:  # the prefix as the words it stands for
        out[-1] = "(" + " | ".join(f"'{w}'" + (f":{weight}" if weight else "")
                                   for w in named) + ")"
    return out


def tsquery(terms, exact=False, expansions=None):
    """A tsquery literal: the terms ANDed, a phrase's words adjacent (`<->`), a term's
    other spellings ORed; a prefix as the words `expansions` says it stands for."""
    parts = []
    for t in terms:
        each = [_lexemes(words, t, exact, expansions) for words in t.spellings()]
        each = ["(" + " <-> ".join(words) + ")" for words in each if words]
        if each:
            parts.append(each[0] if len(each) == 1 else "(" + " | ".join(each) + ")")
    return " & ".join(parts)


def _expansions(db, terms):
    """{prefix lexeme: [the indexed words it stands for]}, for the prefixes standing for
    1 to MAX_EXPANSION words (one range read of search_word's key each, in one
    statement); the others stay prefixes. Matching either way finds the same records."""
    prefixes = {_words(words, t, False)[-1] for t in terms if t.prefix
                for words in t.spellings() if _words(words, t, False)}
    ranges = sorted((p, _next(p)) for p in prefixes if _next(p))
    if not ranges:
        return {}
    rows = db.execute_sql(
        "SELECT p.prefix, w.words FROM unnest(%s::text[], %s::text[]) AS p(prefix, below) "
        "CROSS JOIN LATERAL (SELECT array_agg(word) AS words FROM (SELECT word FROM "
        "search_word WHERE word >= p.prefix AND word < p.below ORDER BY word LIMIT %s) s) w",
        ([p for p, _ in ranges], [b for _, b in ranges], MAX_EXPANSION + 1)).fetchall()
    return {p: words for p, words in rows if words and len(words) <= MAX_EXPANSION}


def _next(prefix):
    """The first string after every string starting with `prefix`, in code-point order
    (None past the last code point)."""
    code = ord(prefix[-1]) + 1
    code = 0xE000 if 0xD800 <= code < 0xE000 else code  # no surrogates
    return prefix[:-1] + chr(code) if code <= 0x10FFFF else None


def _holds(column, value):
    return f"{P} = ANY(d.{column})", value


def _hits_sql(terms, filters, expansions=None):
    query = tsquery(terms, expansions=expansions)
    where, args = "TRUE", []
    if query:
        where, args = f"d.folded @@ {P}::tsquery", [query]
    dsql, dargs = doc_filter(filters, P)
    isql, iargs = item_filter(filters, _holds, P)
    return f"FROM search_doc d WHERE {where}{dsql}{isql}", args + dargs + iargs


def _order(sort):
    if sort == "newest":
        return "d.newest DESC, d.year DESC, d.id DESC"
    return "d.sort_key, d.id"


def _rank(terms):
    """(ORDER BY expression, args): how many terms match with the query's own
    diacritics, then ts_rank over the weighted fields."""
    keys, args = _rank_keys(terms)
    return f"{keys[0]} DESC, {keys[1]} DESC, d.id", args


def _rank_keys(terms):
    """([matched expression, ts_rank expression], args) of `_rank`."""
    exact = [tsquery([t], exact=True) for t in terms]
    exact = [e for e in exact if e]
    matched = " + ".join([f"(d.exact @@ {P}::tsquery)::int"] * len(exact)) or "0"
    return [matched, f"ts_rank({RANK_WEIGHTS}, d.folded, {P}::tsquery)"], exact + [tsquery(terms)]


def search_ids(db, terms, page, per_page, sort, filters, docs=False):
    """(total, [bib_id, ...], whether the total is exact) for one page of results.

    A catalogue of a million records holds a few hundred thousand matches for a common
    word, and PostgreSQL reads each matching row to count or rank it (the GIN index
    finds rows; ranking needs their vectors): a second or more. So a search reads at
    most RANK_CAP + 1 matches (`_capped`). When there are no more, the total is exact
    and the ranking is over every match, as on SQLite. When there are more, the best of
    those RANK_CAP are ranked and the total is estimated from a sample. With `docs`, each
    hit is its row of FACET_COLUMNS."""
    if terms and not tsquery(terms):  # only words too long to be indexed
        return 0, [], True
    limit = [per_page, (page - 1) * per_page]
    sql, args = _hits_sql(terms, filters, _expansions(db, terms))
    cols = FACET_COLUMNS if docs else "d.bib_id"
    if sort == "relevance" and terms:
        order, order_args = _rank(terms)
        if limit[1] + per_page <= RANK_CAP:
            estimate, newest = _expected(db, sql, args, _hits_sql(terms, filters))
            rows = _capped(db, terms, sql, args, limit, newest, cols)
            found, hits = rows[0][-1], _paged(rows, docs)
            if found <= RANK_CAP:
                return found, hits, True
            if estimate is None:
                estimate = _sampled_total(db, sql, args)
            return _rounded(found, estimate), hits, False
        # Past what a capped search ranks (page 250 of 20): rank every match.
        sort_sql, sort_args = order, order_args
    elif terms:
        return _sorted(db, sql, args, sort, limit, cols, docs)
    else:
        sort_sql, sort_args = _order(sort), []
    rows = db.execute_sql(f"SELECT {cols} {sql} ORDER BY {sort_sql} LIMIT {P} OFFSET {P}",
                          args + sort_args + limit).fetchall()
    total, exact = _count(db, sql, args)
    return total, _hits(rows, docs), exact


def _sorted(db, sql, args, sort, limit, cols, docs):
    """A page of the matches in title or newest order, and their number, from one read:
    the index finds every match to sort them (its bitmap), so the first RANK_CAP + 1 in
    order are kept and counted rather than all of them read again to count."""
    keep = ", ".join(dict.fromkeys(["d.id", "d.sort_key", "d.newest", "d.year",
                                    *FACET_COLUMNS.split(", ")]))
    order = _order(sort)
    rows = db.execute_sql(
        f"WITH m AS MATERIALIZED (SELECT {keep} {sql} ORDER BY {order} LIMIT {P}) "
        f"SELECT p.*, k.n FROM (SELECT count(*) AS n FROM m) k LEFT JOIN LATERAL "
        f"(SELECT {cols} FROM m d ORDER BY {order} LIMIT {P} OFFSET {P}) p ON TRUE",
        args + [max(RANK_CAP + 1, sum(limit))] + limit).fetchall()
    found = rows[0][-1]
    if found <= RANK_CAP:
        return found, _paged(rows, docs), True
    return _rounded(found, _sampled_total(db, sql, args)), _paged(rows, docs), False


def _paged(rows, docs):
    """The hits of rows ending in the number of matches; a page past them is one row of
    NULLs (so that the number comes back however deep the page)."""
    return _hits([r[:-1] for r in rows if r[0] is not None], docs)


def _hits(rows, docs):
    return [tuple(r) for r in rows] if docs else [r[0] for r in rows]


def _expected(db, sql, args, planned=None):
    """(the estimated number of matches or None, whether the query is so common that its
    newest matches are cheaper to read by the primary key than through the GIN index).

    The GIN index answers with every match before the first row is read (a bitmap of
    200,000 rows costs 50-70 ms here), while walking the newest records and testing each
    one finds RANK_CAP matches of a query that one record in ten matches after reading
    20,000 rows (5-15 ms). The planner's own estimate assumes words independent and so
    misses "lich su" by four times; a sample of the table measures the share instead. It
    is taken only when the planner already expects more than RANK_CAP matches, and gives
    the estimated total too. The planner is asked about `planned` (the query as typed,
    its prefixes as prefixes) when given, the sample counts `sql`."""
    planned = planned or (sql, args)
    plan = db.execute_sql(f"EXPLAIN (FORMAT JSON) SELECT 1 {planned[0]}",
                          planned[1]).fetchone()[0]
    if plan[0]["Plan"]["Plan Rows"] <= RANK_CAP:
        return None, False
    rows = _table_rows(db)
    total = _sampled_total(db, sql, args, rows)
    return total, total >= SCAN_SHARE * rows


def _capped(db, terms, sql, args, limit, newest, cols):
    """Up to RANK_CAP + 1 matches (the newest when `newest`, else as the GIN index gives
    them), ranked: [(*cols, number of matches read)] for the page. Each match's rank is
    computed as it is read, so only small rows are kept, not its vectors. A page past
    the matches is one row of NULLs and their number."""
    keys, key_args = _rank_keys(terms)
    read = "ORDER BY d.id DESC " if newest else ""
    query = (f"WITH c AS MATERIALIZED (SELECT d.id, {FACET_COLUMNS}, {keys[0]} AS matched, "
             f"{keys[1]} AS score {sql} {read}LIMIT {P}) SELECT p.*, k.n FROM (SELECT "
             f"count(*) AS n FROM c) k LEFT JOIN LATERAL (SELECT {cols} FROM c d ORDER BY "
             f"d.matched DESC, d.score DESC, d.id LIMIT {P} OFFSET {P}) p ON TRUE")
    query_args = key_args + args + [RANK_CAP + 1] + limit
    if not newest:
        return db.execute_sql(query, query_args).fetchall()
    # Only the primary key may serve the newest-first read: a bitmap scan would read
    # every match first, and a sequential scan would sort the whole table.
    with _settings(db, enable_bitmapscan="off", enable_seqscan="off"):
        return db.execute_sql(query, query_args).fetchall()


def _count(db, sql, args):
    """(total, exact): counted up to RANK_CAP, estimated beyond."""
    found = db.execute_sql(f"SELECT count(*) FROM (SELECT 1 {sql} LIMIT {P}) c",
                           args + [RANK_CAP + 1]).fetchone()[0]
    if found <= RANK_CAP:
        return found, True
    return _rounded(found, _sampled_total(db, sql, args)), False


def _table_rows(db):
    return db.execute_sql("SELECT reltuples FROM pg_class WHERE oid = "
                          "'search_doc'::regclass").fetchone()[0]


def _sampled_total(db, sql, args, rows=None):
    """Matches in the whole table (of about `rows` rows), counted in a sample of about
    SAMPLE_ROWS rows (whole pages, the same pages for the same query, so paging keeps
    one figure). "On the shelf" looks up the copies of SHELF_SAMPLE of the sample's
    matches and counts the same share of the others (`_on_the_shelf`): left to itself
    the planner hashed every copy of the town first (150-250 ms on 200,000 records,
    for 5,000 lookups of a few ms), so hash and merge joins are off for the one
    statement."""
    rows = _table_rows(db) if rows is None else rows
    percent = min(100.0, 100.0 * SAMPLE_ROWS / max(rows, 1.0))
    sampled = sql.replace("FROM search_doc d", f"FROM search_doc d TABLESAMPLE SYSTEM "
                          f"({percent:.4f}) REPEATABLE (7)", 1)
    with _settings(db, enable_hashjoin="off", enable_mergejoin="off"):
        if _SHELF in sampled:
            hits = _on_the_shelf(db, sampled, args)
        else:
            hits = db.execute_sql(f"SELECT count(*) {sampled}", args).fetchone()[0]
    return hits * 100.0 / percent


# How `item_filter` asks for a copy on the shelf: the last condition, with the last args.
_SHELF = " AND EXISTS (SELECT 1 FROM item i WHERE "


def _on_the_shelf(db, sampled, args):
    """The sample's matches with a copy on the shelf: all of them counted when they are
    at most SHELF_SAMPLE, else their number times the share found among SHELF_SAMPLE of
    them, the same ones every time, drawn by a hash of the record (the first in the
    table would be the oldest, or the last re-indexed)."""
    cut = sampled.index(_SHELF)
    shelf = sampled[cut + len(" AND "):]
    split = len(args) - shelf.count(P)
    matches, read, kept = db.execute_sql(
        f"WITH s AS MATERIALIZED (SELECT d.bib_id, row_number() OVER (ORDER BY "
        f"md5(d.bib_id)) AS k "
        f"{sampled[:cut]}) SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM s WHERE "
        f"k <= {P}), (SELECT count(*) FROM s d WHERE d.k <= {P} AND {shelf})",
        args[:split] + [SHELF_SAMPLE, SHELF_SAMPLE] + args[split:]).fetchone()
    return matches * kept / read if read else 0


def _rounded(found, total):
    """An estimated total rounded to two significant digits: it is an estimate, and says
    so; never below the matches actually read."""
    digits = max(0, len(str(int(total))) - 2)
    return max(found, int(round(total, -digits)))
