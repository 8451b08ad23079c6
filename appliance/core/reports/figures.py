"""The figures of a library's report (the lines of a public library's monthly report,
in the spirit of TCVN 12843 / ISO 2789) for a period, from the projected tables and the
log. Every figure is counted per library in one grouped statement, so a report over the
town costs what one library's does; the town's totals add them up, except what must be
counted once across libraries (a patron active at two, a title held by two).

What a figure means, where it is not obvious:
- visits: patrons who identified at the desk or kiosk (once a day each), plus the
  readers counted by hand on each day;
- items served: loans plus copies read on site (scanned at the desk);
- returns: returns of the library's loans, wherever the copy came back;
- cards issued: patrons registered in the period (erased ones too: the card was issued);
  cards renewed: patrons whose card's expiry was changed in the period;
- registered patrons: cards held at the period's end; active: those who borrowed here
  or visited in the period; children: under 16 at the period's end by birth year, or of
  the category `child` when no birth year is known (Law on Children: under 16);
- collection: copies accessioned by the period's end that are not lost or withdrawn
  now (the condition is the one held now, not as it was then);
- lost, withdrawn: copies marked so in the period; overdue: loans open at the period's
  end whose due date had passed;
- digitised documents and their views: None ("no data") until digitised collections
  exist;
- fees (in đồng): charged for copies lost or damaged on loan, and for late returns, in
  the period by the library whose copy it was, and paid or waived in the period
  (core/fees)."""

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, time, timedelta

from .. import clock, dialect
from ..models import database_proxy

CHILD_AGE = 16


def _bounds(period):
    s, a, e = period.start.isoformat(), period.after.isoformat(), period.end.isoformat()
    return s, a, e


def _hlc_of(day):
    """The first clock value of a local day at the library (events are stamped in ms)."""
    moment = datetime.combine(day, time(0), clock.LIBRARY_TZ)
    return clock.pack(int(moment.timestamp() * 1000), 0)


def _filter(column, libraries):
    if libraries is None:
        return "", ()
    return f" AND {column} IN ({', '.join('?' * len(libraries))})", tuple(libraries)


def _rows(text, params, column, libraries, town=""):
    """Run `text` with {key} (the library column), {only} (the library filter, as often
    as it comes), {town} (the town's own counts, or nothing) and {whole_table} (the loans
    read whole in their own order) filled in."""
    where, extra = _filter(column, libraries)
    text = text.format(key=column, only=where, town=town, whole_table=_whole())
    return dialect.run(text, _spread(params, extra)).fetchall()


def _whole():
    return "" if dialect.is_postgres(database_proxy) else LOANS_IN_ORDER


def _spread(params, extra):
    """`params` with the filter's values put where each {only} comes: `params` is a list
    of tuples, one before each {only} and the last after it."""
    if isinstance(params, tuple):
        return params + extra
    out = ()
    for part in params[:-1]:
        out += part + extra
    return out + params[-1]


# Loans, returns, the loans overdue at the end and the active patrons in one pass over the
# loans: each (library, borrower) pair once with its three counts, then the pairs of
# borrowers and of visitors counted by the patrons' category, per library and, with
# {town}, once across the town (a patron active at two libraries is one patron there).
# The loans are read in the table's order: SQLite would otherwise walk an index to have
# them grouped already, and read every loan's row at random (five times slower). They are
# stored by their id (WITHOUT ROWID), for which SQLite does not obey NOT INDEXED (it
# walked the library's index again): the id's own b-tree, the table itself, is named.
LOANS_IN_ORDER = " INDEXED BY sqlite_autoindex_loan_1"
_OUT = "(out_at >= ? AND out_at < ?)"
_BACK = "(returned_at >= ? AND returned_at < ?)"
_LATE = "(out_at < ? AND due_date < ? AND (returned_at IS NULL OR returned_at >= ?))"
_CHILD = ("CASE WHEN (p.birth_year IS NOT NULL AND p.birth_year > ?) OR "
          "(p.birth_year IS NULL AND p.category = 'child') THEN 1 ELSE 0 END")
CIRCULATION = (
    "WITH pairs AS (SELECT library AS lib, patron_id AS who, " + ", ".join(
        f"SUM(CASE WHEN {c} THEN 1 ELSE 0 END) AS {n}"
        for c, n in ((_OUT, "n_out"), (_BACK, "n_back"), (_LATE, "n_late")))
    + f" FROM loan{{whole_table}} WHERE ({_OUT} OR {_BACK} OR {_LATE}){{only}} GROUP BY 1, 2), "
    "act AS (SELECT lib, who FROM pairs WHERE n_out > 0 UNION "
    "SELECT library, patron FROM visit WHERE day >= ? AND day <= ?{only}), "
    "ap AS (SELECT a.lib, a.who, COALESCE(p.category, 'unknown') AS cat, " + _CHILD
    + " AS child FROM act a LEFT JOIN patron p ON p.id = a.who) "
    "SELECT 'loans', lib, '', 0, SUM(n_out), SUM(n_back), SUM(n_late) FROM pairs GROUP BY 2 "
    "UNION ALL SELECT 'active', lib, cat, child, COUNT(*), 0, 0 FROM ap GROUP BY 2, 3, 4{town}")
CIRCULATION_TOWN = (" UNION ALL SELECT 'active', '*', cat, child, COUNT(*), 0, 0 FROM "
                    "(SELECT DISTINCT who, cat, child FROM ap) t GROUP BY 3, 4")
RENEWALS = ("SELECT {key}, COUNT(*) FROM event WHERE kind = 'loan.renew' AND hlc >= ? "
            "AND hlc < ?{only} GROUP BY 1")
ON_SITE = ("SELECT {key}, COUNT(*) FROM in_library_use WHERE day >= ? AND day <= ?{only} "
           "GROUP BY 1")
VISITS = "SELECT {key}, COUNT(*) FROM visit WHERE day >= ? AND day <= ?{only} GROUP BY 1"
TALLY = ("SELECT {key}, SUM(count) FROM visit_tally WHERE day >= ? AND day <= ?{only} "
         "GROUP BY 1")
ISSUED = ("SELECT {key}, COUNT(*) FROM patron WHERE created_at >= ? AND created_at < ?{only} "
          "GROUP BY 1")
RENEWED = ("SELECT {key}, COUNT(DISTINCT f.entity) FROM field_edit f "
           "JOIN patron p ON p.id = f.entity WHERE f.model = 'Patron' AND f.field = 'expiry' "
           "AND f.at >= ? AND f.at < ?{only} GROUP BY 1")
CONDITION = ("SELECT {key}, f.value, COUNT(DISTINCT f.entity) FROM field_edit f "
             "JOIN item i ON i.id = f.entity WHERE f.model = 'Item' AND f.field = 'condition' "
             "AND f.value IN ('\"lost\"', '\"withdrawn\"') AND f.at >= ? AND f.at < ?{only} "
             "GROUP BY 1, 2")
REGISTERED = ("SELECT {key}, p.category, " + _CHILD + ", COUNT(*) FROM patron p "
              "WHERE NOT p.deleted AND p.created_at < ?{only} GROUP BY 1, 2, 3")
_HELD = "i.accession_date <= ? AND i.condition NOT IN ('lost', 'withdrawn')"
# The collection in one pass over the copies: each record's copies of a type grouped
# once, then added up by type and, with the record's language, by language (a record has
# one language, so a library's titles are its titles of every language added up).
# Titles are counted as groups rather than by COUNT(DISTINCT), which PostgreSQL can only
# sort for; with {town}, once more across the town (a record held by two libraries is
# one title there).
HOLDINGS = (
    "WITH g AS (SELECT i.library AS k, i.item_type AS t, i.bib_id AS bib, COUNT(*) AS n "
    "FROM item i WHERE " + _HELD + "{only} GROUP BY 1, 2, 3), "
    "h AS (SELECT k, bib, SUM(n) AS n FROM g GROUP BY 1, 2), "
    "hl AS (SELECT h.k, h.bib, h.n, COALESCE(b.language, '') AS lang FROM h "
    "LEFT JOIN bib b ON b.id = h.bib) "
    "SELECT 'by_item_type', k, t, SUM(n), COUNT(*) FROM g GROUP BY 2, 3 "
    "UNION ALL SELECT 'by_language', k, lang, SUM(n), COUNT(*) FROM hl GROUP BY 2, 3{town}")
HOLDINGS_TOWN = (
    " UNION ALL SELECT 'by_item_type', '*', t, SUM(n), COUNT(*) FROM "
    "(SELECT t, bib, SUM(n) AS n FROM g GROUP BY 1, 2) x GROUP BY 3 "
    "UNION ALL SELECT 'by_language', '*', lang, SUM(n), COUNT(*) FROM "
    "(SELECT lang, bib, SUM(n) AS n FROM hl GROUP BY 1, 2) x GROUP BY 3")
ACQUIRED = ("WITH a AS (SELECT i.library AS k, i.bib_id AS bib, COUNT(*) AS n FROM item i "
            "WHERE i.accession_date >= ? AND i.accession_date <= ?{only} GROUP BY 1, 2) "
            "SELECT k, SUM(n), COUNT(*) FROM a GROUP BY 1{town}")
ACQUIRED_TOWN = (" UNION ALL SELECT '*', SUM(n), COUNT(*) FROM "
                 "(SELECT bib, SUM(n) AS n FROM a GROUP BY 1) x")
# Fees in đồng, by the library that charged them: charged in the period, and paid or
# waived in it (a fee charged in March and paid in April counts in each month once).
# What was paid or waived is its payments and waivers (fees/projection), each in the
# period it was taken, so a fee paid in two parts counts each where it fell.
FEES = ("SELECT {key}, 'charged', SUM(f.amount) FROM fee f WHERE f.charged_hlc > 0 "
        "AND f.charged_at >= ? AND f.charged_at < ?{only} GROUP BY 1 "
        "UNION ALL SELECT {key}, CASE p.kind WHEN 'waiver' THEN 'waived' ELSE 'paid' END, "
        "SUM(p.amount) FROM fee_payment p JOIN fee f ON f.id = p.fee_id "
        "WHERE p.at >= ? AND p.at < ?{only} GROUP BY 1, 2")
TOWN = "*"  # the key of the town's own counts in the statements above


def empty():
    """A library's figures with nothing counted: every key the report has."""
    return {
        "visits": {"total": 0, "identified": 0, "counted": 0},
        "items_served": {"total": 0, "loans": 0, "in_library_use": 0},
        "loans": 0, "loans_by_post": 0, "returns": 0, "renewals": 0,
        "cards": {"issued": 0, "renewed": 0},
        "patrons_registered": {"total": 0, "children": 0, "by_category": {}},
        "patrons_active": {"total": 0, "children": 0, "by_category": {}},
        "collection": {"titles": 0, "copies": 0, "by_item_type": {}, "by_language": {}},
        "acquisitions": {"titles": 0, "copies": 0},
        "copies_lost": 0, "copies_withdrawn": 0, "loans_overdue": 0,
        "digitised": {"documents": None, "views": None},
        "fees": {"charged": 0, "paid": 0, "waived": 0},
    }


@contextmanager
def reading():
    """One snapshot for every figure of a report; on PostgreSQL with room enough to
    group by hashing in memory rather than sorting on disk (the default work_mem is
    4 MB), and without JIT compilation, which costs a statement of a report more time
    than it saves (0.2 s of the pass over 2.5 million loans), for this transaction
    only."""
    db = database_proxy.obj
    if not dialect.is_postgres(db):
        with db.atomic():
            yield
        return
    with db.atomic(isolation_level="REPEATABLE READ"):  # every statement sees one moment
        _settings(db)
        yield


def _settings(db):
    db.execute_sql("SET LOCAL work_mem = '64MB'")
    db.execute_sql("SET LOCAL jit = off")


def compute(period, libraries=None, today=None):
    """{library code: figures} for `libraries` (codes), or for every library the
    database holds figures of, over `period`. `today`: a period not over yet counts
    overdue loans as of today, not as of its end."""
    return _count(period, libraries, today, whole=False)[0]


def town(period, libraries=None, today=None):
    """The figures of the whole town (or of `libraries` together): counts added up, and
    patrons and titles counted once however many libraries they are found at."""
    return _count(period, libraries, today, whole=True)[1]


def libraries_and_town(period, libraries=None, today=None):
    """({library code: figures}, the town's figures), counted together: the statements
    that go through the loans and the copies count the town's patrons and titles in the
    same pass as the libraries'."""
    return _count(period, libraries, today, whole=True)


def town_from(per_library, period, libraries=None, today=None):
    """`town` from the libraries' figures already counted: the counts added up, and what
    must be counted once across libraries (active patrons, titles) counted again."""
    whole = empty()
    for figures in per_library.values():
        _add(whole, figures)
    again = town(period, libraries, today)
    for name in ONCE_ACROSS:
        whole[name] = again[name]
    return whole


# What the town counts once however many libraries it is found at, rather than adds up.
ONCE_ACROSS = ("patrons_active", "collection", "acquisitions")


def _count(period, libraries, today, whole):
    out: dict[str, dict] = {code: empty() for code in libraries or ()}
    again = {TOWN: empty()} if whole else None
    with reading():
        _fill(out, period, libraries, today, again)
    total = empty()
    if whole:
        for figures in out.values():
            _add(total, figures)
        for name in ONCE_ACROSS:
            total[name] = again[TOWN][name] if again else None
        _totals(total)
    return out, total


def _add(total, part):
    """Add `part`'s counts into `total`, key by key (None stays None: no data)."""
    for key, value in part.items():
        if isinstance(value, dict):
            _add(total.setdefault(key, {}), value)
        elif isinstance(value, int) and not isinstance(value, bool):
            total[key] = (total.get(key) or 0) + value


def _get(out, code):
    if code not in out:
        out[code] = empty()
    return out[code]


def _statements(period, today, whole):
    """{name: (text, params, library column, the town's part)} of every figure."""
    s, a, e = _bounds(period)
    # overdue as of the period's end, or today while it runs: (first day after, that day)
    as_of = period.end if today is None else min(period.end, today)
    late = (as_of + timedelta(days=1)).isoformat(), as_of.isoformat()
    marks = (s, a, s, a, late[0], late[1], late[0])
    child_after = period.end.year - CHILD_AGE
    return {
        "circulation": (CIRCULATION, [marks + marks, (s, e), (child_after,)], "library",
                        CIRCULATION_TOWN if whole else ""),
        "renewals": (RENEWALS, (_hlc_of(period.start), _hlc_of(period.after)), "library", ""),
        "on_site": (ON_SITE, (s, e), "library", ""),
        "visits": (VISITS, (s, e), "library", ""),
        "tally": (TALLY, (s, e), "library", ""),
        "issued": (ISSUED, (s, a), "library", ""),
        "renewed": (RENEWED, (s, a), "p.library", ""),
        "condition": (CONDITION, (s, a), "i.library", ""),
        "registered": (REGISTERED, (child_after, a), "p.library", ""),
        "holdings": (HOLDINGS, (e,), "i.library", HOLDINGS_TOWN if whole else ""),
        "acquired": (ACQUIRED, (s, e), "i.library", ACQUIRED_TOWN if whole else ""),
        "digitised": (DIGITISED, ((period.end + timedelta(days=1)).isoformat(),), "library",
                      ""),
        "digital_views": (DIGITAL_VIEWS, (s, e), "library", ""),
        "by_post": (BY_POST, (s, a), "r.library", ""),
        "fees": (FEES, [(s, a), (s, a), ()], "f.library", ""),
    }


def _fill(out, period, libraries, today, town_out=None):
    """Every figure of each library into `out`; with `town_out`, the town's own counts
    of what is counted once across libraries into town_out[TOWN]."""
    rows = _run(_statements(period, today, town_out is not None), libraries)
    into = town_out if town_out is not None else {}  # where the town's own counts go

    def each(name, setter):
        for code, value in rows[name]:
            setter(_get(out, code), int(value or 0))

    _circulation(out, into, rows["circulation"])
    each("renewals", lambda f, v: f.__setitem__("renewals", v))
    each("by_post", lambda f, v: f.__setitem__("loans_by_post", v))
    each("on_site", lambda f, v: f["items_served"].__setitem__("in_library_use", v))
    each("visits", lambda f, v: f["visits"].__setitem__("identified", v))
    each("tally", lambda f, v: f["visits"].__setitem__("counted", v))
    each("issued", lambda f, v: f["cards"].__setitem__("issued", v))
    each("renewed", lambda f, v: f["cards"].__setitem__("renewed", v))
    for code, value, count in rows["condition"]:
        name = "copies_lost" if value == '"lost"' else "copies_withdrawn"
        _get(out, code)[name] = int(count)
    _people(out, rows["registered"], "patrons_registered")
    _holdings(out, into, rows["holdings"])
    for code, copies, titles in rows["acquired"]:
        _get(into if code in into else out, code)["acquisitions"] = {
            "titles": int(titles), "copies": int(copies or 0)}
    _digitised(out, rows)
    for code, what, amount in rows["fees"]:
        _get(out, code)["fees"][what] = int(amount or 0)
    for figures in out.values():
        _totals(figures)


DIGITISED = ("SELECT {key}, COUNT(*) FROM digital_document WHERE NOT deleted "
             "AND created_at < ?{only} GROUP BY 1")
# Loans sent by post (core/requests), counted apart: among the loans, not beside them.
BY_POST = ("SELECT {key}, COUNT(*) FROM remote_request r JOIN loan l ON l.id = r.loan_id "
           "WHERE r.kind = 'postal_loan' AND l.out_at >= ? AND l.out_at < ?{only} GROUP BY 1")
DIGITAL_VIEWS = ("SELECT {key}, COUNT(*) FROM digital_use WHERE action = 'view' AND day >= ? "
                 "AND day <= ?{only} GROUP BY 1")


def _digitised(out, rows):
    """Documents digitised by the period's end and their views in it; "no data" (None)
    while the town has no digital document at all."""
    if not dialect.run("SELECT 1 FROM digital_document LIMIT 1").fetchone():
        return
    for figures in out.values():
        figures["digitised"] = {"documents": 0, "views": 0}
    for name, part in (("digitised", "documents"), ("digital_views", "views")):
        for code, n in rows[name]:
            figures = _get(out, code)
            figures["digitised"] = dict(figures["digitised"] or {"documents": 0, "views": 0},
                                        **{part: int(n)})


# On PostgreSQL a report over several libraries runs its statements on two connections
# at once, in one snapshot: the pass over the loans on this one, the rest (the pass over
# the copies the costliest) on another, so a hub with cores to spare answers in about
# the time of the longer of the two.
ALONGSIDE = ("circulation",)


def _run(statements, libraries):
    """{name: rows} of `statements`, the town's parts and the library filter filled in."""
    def one(name):
        text, params, column, town = statements[name]
        return _rows(text, params, column, libraries, town)

    db = database_proxy.obj
    if not dialect.is_postgres(db) or (libraries is not None and len(libraries) < 2):
        return {name: one(name) for name in statements}
    rest = [name for name in statements if name not in ALONGSIDE]
    snapshot = dialect.run("SELECT pg_export_snapshot()").fetchone()[0]
    with ThreadPoolExecutor(max_workers=1) as pool:
        later = pool.submit(_in_snapshot, db, snapshot, lambda: {n: one(n) for n in rest})
        done = {name: one(name) for name in ALONGSIDE}
        done.update(later.result())
    return done


def _in_snapshot(db, snapshot, work):
    """`work` on this thread's own connection, in the snapshot another transaction
    exported; the connection is closed after."""
    try:
        with db.atomic(isolation_level="REPEATABLE READ"):
            db.execute_sql("SET TRANSACTION SNAPSHOT %s", (snapshot,))
            _settings(db)
            return work()
    finally:
        db.close()


def _circulation(out, into, rows):
    for part, code, category, child, n, returns, overdue in rows:
        if part == "loans":
            _get(out, code).update(loans=int(n or 0), returns=int(returns or 0),
                                   loans_overdue=int(overdue or 0))
        else:
            _people(into if code in into else out, [(code, category, child, n)],
                    "patrons_active")


def _people(out, rows, name):
    for code, category, child, count in rows:
        group = _get(out, code)[name]
        group["total"] += int(count)
        group["children"] += int(count) if int(child) else 0
        group["by_category"][category] = group["by_category"].get(category, 0) + int(count)


def _holdings(out, into, rows):
    for part, code, kind, copies, titles in rows:
        collection = _get(into if code in into else out, code)["collection"]
        collection[part][kind or "und"] = {"titles": int(titles), "copies": int(copies)}
        if part == "by_language":  # a record has one language: the titles add up
            collection["titles"] += int(titles)
            collection["copies"] += int(copies)


def _totals(figures):
    served = figures["items_served"]
    served["loans"] = figures["loans"]
    served["total"] = served["loans"] + served["in_library_use"]
    visits = figures["visits"]
    visits["total"] = visits["identified"] + visits["counted"]


MONTHLY_LOANS = ("SELECT SUBSTR(out_at, 1, 7), COUNT(*) FROM loan{whole_table} "
                 "WHERE out_at >= ? AND out_at < ?{only} GROUP BY 1")
MONTHLY_VISITS = ("SELECT SUBSTR(day, 1, 7), COUNT(*) FROM visit WHERE day >= ? "
                  "AND day <= ?{only} GROUP BY 1")
MONTHLY_TALLY = ("SELECT SUBSTR(day, 1, 7), SUM(count) FROM visit_tally WHERE day >= ? "
                 "AND day <= ?{only} GROUP BY 1")


def months(period):
    """The months a period touches, as YYYY-MM."""
    out, y, m = [], period.start.year, period.start.month
    while (y, m) <= (period.end.year, period.end.month):
        out.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def monthly(period, libraries=None):
    """{"loans": [(month, n)], "visits": [(month, n)]} over the period's months, for
    `libraries` (codes) or every library."""
    s, a, e = _bounds(period)
    where, extra = _filter("library", libraries)
    series = {}
    loans = dict(dialect.run(MONTHLY_LOANS.format(only=where, whole_table=_whole()),
                             (s, a) + extra).fetchall())
    visits = dict(dialect.run(MONTHLY_VISITS.format(only=where), (s, e) + extra).fetchall())
    for m, n in dialect.run(MONTHLY_TALLY.format(only=where), (s, e) + extra).fetchall():
        visits[m] = visits.get(m, 0) + int(n or 0)
    for name, counts in (("loans", loans), ("visits", visits)):
        series[name] = [(m, int(counts.get(m, 0))) for m in months(period)]
    return series
