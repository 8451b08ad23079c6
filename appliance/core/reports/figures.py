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
  exist."""

from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

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


def _rows(text, params, column, libraries, grouped):
    """Run `text` with {key} (the library column, or one key for the whole town) and
    {only} (the library filter) filled in. Groups are named by position: PostgreSQL
    refuses a constant in GROUP BY."""
    where, extra = _filter(column, libraries)
    key = column if grouped else "'*'"
    return dialect.run(text.format(key=key, only=where), params + extra).fetchall()


def _simple(text, params, column, libraries, grouped):
    """{library: count} of a statement that selects (key, count) grouped by key."""
    return {row[0]: int(row[1] or 0) for row in _rows(text, params, column, libraries, grouped)}


# Loans, returns and the loans overdue at the end, in one pass over the loans.
_OUT = "(out_at >= ? AND out_at < ?)"
_BACK = "(returned_at >= ? AND returned_at < ?)"
_LATE = "(out_at < ? AND due_date < ? AND (returned_at IS NULL OR returned_at >= ?))"
LOAN_COUNTS = ("SELECT {key}, " + ", ".join(
    f"SUM(CASE WHEN {c} THEN 1 ELSE 0 END)" for c in (_OUT, _BACK, _LATE))
    + f" FROM loan WHERE ({_OUT} OR {_BACK} OR {_LATE}){{only}} GROUP BY 1")
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
_CHILD = ("CASE WHEN (p.birth_year IS NOT NULL AND p.birth_year > ?) OR "
          "(p.birth_year IS NULL AND p.category = 'child') THEN 1 ELSE 0 END")
REGISTERED = ("SELECT {key}, p.category, " + _CHILD + ", COUNT(*) FROM patron p "
              "WHERE NOT p.deleted AND p.created_at < ?{only} GROUP BY 1, 2, 3")
ACTIVE = ("SELECT {key}, COALESCE(p.category, 'unknown'), " + _CHILD + ", COUNT(*) FROM ("
          "SELECT library, patron_id AS who FROM loan WHERE out_at >= ? AND out_at < ? "
          "UNION SELECT library, patron AS who FROM visit WHERE day >= ? AND day <= ?) x "
          "LEFT JOIN patron p ON p.id = x.who WHERE 1 = 1{only} "
          "GROUP BY 1, 2, 3")
_HELD = "i.accession_date <= ? AND i.condition NOT IN ('lost', 'withdrawn')"
# The collection in one pass over the copies: each record's copies of a type grouped
# once, then added up three ways (a record has one language, so its titles by language
# need no second grouping by it). Titles are counted as groups rather than by
# COUNT(DISTINCT), which PostgreSQL can only sort for.
HOLDINGS = (
    "WITH g AS (SELECT {key} AS k, i.item_type AS t, i.bib_id AS bib, COUNT(*) AS n "
    "FROM item i WHERE " + _HELD + "{only} GROUP BY 1, 2, 3), "
    "h AS (SELECT k, bib, SUM(n) AS n FROM g GROUP BY 1, 2) "
    "SELECT 'all', k, '', SUM(n), COUNT(*) FROM h GROUP BY 2 "
    "UNION ALL SELECT 'by_item_type', k, t, SUM(n), COUNT(*) FROM g GROUP BY 2, 3 "
    "UNION ALL SELECT 'by_language', h.k, COALESCE(b.language, ''), SUM(h.n), COUNT(*) "
    "FROM h JOIN bib b ON b.id = h.bib GROUP BY 2, 3")
ACQUIRED = ("SELECT k, SUM(n), COUNT(*) FROM (SELECT {key} AS k, i.bib_id, COUNT(*) AS n "
            "FROM item i WHERE i.accession_date >= ? AND i.accession_date <= ?{only} "
            "GROUP BY 1, 2) t GROUP BY 1")


def empty():
    """A library's figures with nothing counted: every key the report has."""
    return {
        "visits": {"total": 0, "identified": 0, "counted": 0},
        "items_served": {"total": 0, "loans": 0, "in_library_use": 0},
        "loans": 0, "returns": 0, "renewals": 0,
        "cards": {"issued": 0, "renewed": 0},
        "patrons_registered": {"total": 0, "children": 0, "by_category": {}},
        "patrons_active": {"total": 0, "children": 0, "by_category": {}},
        "collection": {"titles": 0, "copies": 0, "by_item_type": {}, "by_language": {}},
        "acquisitions": {"titles": 0, "copies": 0},
        "copies_lost": 0, "copies_withdrawn": 0, "loans_overdue": 0,
        "digitised": {"documents": None, "views": None},
    }


@contextmanager
def reading():
    """One snapshot for every figure of a report; on PostgreSQL with room enough to
    group by hashing in memory rather than sorting on disk (the default work_mem is
    4 MB), for this transaction only."""
    db = database_proxy.obj
    with db.atomic():
        if dialect.is_postgres(db):
            db.execute_sql("SET LOCAL work_mem = '64MB'")
        yield


def compute(period, libraries=None, today=None):
    """{library code: figures} for `libraries` (codes), or for every library the
    database holds figures of, over `period`. `today`: a period not over yet counts
    overdue loans as of today, not as of its end."""
    out: dict[str, dict] = {}
    for code in libraries or ():
        out[code] = empty()
    with reading():
        _fill(out, period, libraries, True, today)
    return out


def town(period, libraries=None, today=None):
    """The figures of the whole town (or of `libraries` together): counts added up, and
    patrons and titles counted once however many libraries they are found at."""
    out = {"*": empty()}
    with reading():
        _fill(out, period, libraries, False, today)
    return out["*"]


def town_from(per_library, period, libraries=None, today=None):
    """`town` from the libraries' figures already counted: the counts added up, and only
    what must be counted once across libraries (active patrons, titles) counted again."""
    whole = empty()
    for figures in per_library.values():
        _add(whole, figures)
    again = {"*": empty()}
    s, a, e = _bounds(period)
    run = dict(libraries=libraries, grouped=False)
    with reading():
        _people(again, ACTIVE, (period.end.year - CHILD_AGE, s, a, s, e), "x.library",
                "patrons_active", run)
        _holdings(again, e, run)
        for _, copies, titles in _rows(ACQUIRED, (s, e), "i.library", **run):
            again["*"]["acquisitions"] = {"titles": int(titles), "copies": int(copies)}
    for name in ("patrons_active", "collection", "acquisitions"):
        whole[name] = again["*"][name]
    return whole


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


def _fill(out, period, libraries, grouped, today):
    s, a, e = _bounds(period)
    # overdue as of the period's end, or today while it runs: (first day after, that day)
    as_of = period.end if today is None else min(period.end, today)
    late = (as_of + timedelta(days=1)).isoformat(), as_of.isoformat()
    child_after = period.end.year - CHILD_AGE
    run = dict(libraries=libraries, grouped=grouped)

    def each(text, params, column, setter):
        for code, value in _simple(text, params, column, **run).items():
            setter(_get(out, code), value)

    marks = (s, a, s, a, late[0], late[1], late[0])
    for code, loans, returns, overdue in _rows(LOAN_COUNTS, marks + marks, "library", **run):
        _get(out, code).update(loans=int(loans or 0), returns=int(returns or 0),
                               loans_overdue=int(overdue or 0))
    each(RENEWALS, (_hlc_of(period.start), _hlc_of(period.after)), "library",
         lambda f, v: f.__setitem__("renewals", v))
    each(ON_SITE, (s, e), "library",
         lambda f, v: f["items_served"].__setitem__("in_library_use", v))
    each(VISITS, (s, e), "library", lambda f, v: f["visits"].__setitem__("identified", v))
    each(TALLY, (s, e), "library", lambda f, v: f["visits"].__setitem__("counted", v))
    each(ISSUED, (s, a), "library", lambda f, v: f["cards"].__setitem__("issued", v))
    each(RENEWED, (s, a), "p.library", lambda f, v: f["cards"].__setitem__("renewed", v))
    for code, value, count in _rows(CONDITION, (s, a), "i.library", **run):
        name = "copies_lost" if value == '"lost"' else "copies_withdrawn"
        _get(out, code)[name] = int(count)
    _people(out, REGISTERED, (child_after, a), "p.library", "patrons_registered", run)
    _people(out, ACTIVE, (child_after, s, a, s, e), "x.library", "patrons_active", run)
    _holdings(out, e, run)
    for code, copies, titles in _rows(ACQUIRED, (s, e), "i.library", **run):
        _get(out, code)["acquisitions"] = {"titles": int(titles), "copies": int(copies)}
    _digitised(out, s, e, run)
    for figures in out.values():
        _totals(figures)


DIGITISED = ("SELECT {key}, COUNT(*) FROM digital_document WHERE NOT deleted "
             "AND created_at < ?{only} GROUP BY 1")
DIGITAL_VIEWS = ("SELECT {key}, COUNT(*) FROM digital_use WHERE action = 'view' AND day >= ? "
                 "AND day <= ?{only} GROUP BY 1")


def _digitised(out, s, e, run):
    """Documents digitised by the period's end and their views in it; "no data" (None)
    while the town has no digital document at all."""
    if not dialect.run("SELECT 1 FROM digital_document LIMIT 1").fetchone():
        return
    for figures in out.values():
        figures["digitised"] = {"documents": 0, "views": 0}
    after_end = (date.fromisoformat(e) + timedelta(days=1)).isoformat()
    for code, n in _simple(DIGITISED, (after_end,), "library", **run).items():
        _get(out, code)["digitised"] = dict(_get(out, code)["digitised"] or {}, documents=n)
    for code, n in _simple(DIGITAL_VIEWS, (s, e), "library", **run).items():
        digitised = _get(out, code)["digitised"]
        if digitised.get("documents") is None:
            digitised["documents"] = 0
        digitised["views"] = n


def _people(out, text, params, column, name, run):
    for code, category, child, count in _rows(text, params, column, **run):
        group = _get(out, code)[name]
        group["total"] += int(count)
        group["children"] += int(count) if int(child) else 0
        group["by_category"][category] = group["by_category"].get(category, 0) + int(count)


def _holdings(out, end, run):
    for part, code, kind, copies, titles in _rows(HOLDINGS, (end,), "i.library", **run):
        collection = _get(out, code)["collection"]
        if part == "all":
            collection.update(titles=int(titles), copies=int(copies))
        else:
            collection[part][kind or "und"] = {"titles": int(titles), "copies": int(copies)}


def _totals(figures):
    served = figures["items_served"]
    served["loans"] = figures["loans"]
    served["total"] = served["loans"] + served["in_library_use"]
    visits = figures["visits"]
    visits["total"] = visits["identified"] + visits["counted"]


MONTHLY_LOANS = ("SELECT SUBSTR(out_at, 1, 7), COUNT(*) FROM loan WHERE out_at >= ? "
                 "AND out_at < ?{only} GROUP BY 1")
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
    loans = dict(dialect.run(MONTHLY_LOANS.format(only=where), (s, a) + extra).fetchall())
    visits = dict(dialect.run(MONTHLY_VISITS.format(only=where), (s, e) + extra).fetchall())
    for m, n in dialect.run(MONTHLY_TALLY.format(only=where), (s, e) + extra).fetchall():
        visits[m] = visits.get(m, 0) + int(n or 0)
    for name, counts in (("loans", loans), ("visits", visits)):
        series[name] = [(m, int(counts.get(m, 0))) for m in months(period)]
    return series
