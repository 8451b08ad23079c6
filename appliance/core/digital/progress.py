"""Digitisation progress, the plan's indicator: of the records marked local history,
rare or of special value, how many have a digital copy, per library (the libraries
holding copies of them) and for the town; and the work list of those without one,
oldest first or most requested (holds and loans) first."""

from .. import dialect
from ..models import Bib, DigitalDocument

MARKED = "(b.local_history OR b.rare OR b.special_value) AND NOT b.deleted"
HAS_COPY = ("EXISTS (SELECT 1 FROM digital_document d WHERE d.bib = b.id "
            "AND NOT d.deleted)")


def town_counts():
    """(marked records, those with a digital copy); the second is None ("no data") while
    the town holds no digital document at all."""
    marked = Bib.select().where((Bib.local_history | Bib.rare | Bib.special_value)
                                & ~Bib.deleted).count()
    if not DigitalDocument.select().exists():
        return marked, None
    done = dialect.run(f"SELECT COUNT(*) FROM bib b WHERE {MARKED} AND {HAS_COPY}").fetchone()
    return marked, int(done[0])


def by_library():
    """[{library, marked, digitised, percent}] over the libraries holding a copy of a
    marked record (a record counts at every library holding it)."""
    rows = dialect.run(
        f"SELECT i.library, COUNT(DISTINCT b.id), COUNT(DISTINCT CASE WHEN {HAS_COPY} "
        f"THEN b.id END) FROM bib b JOIN item i ON i.bib_id = b.id WHERE {MARKED} "
        "GROUP BY i.library ORDER BY i.library").fetchall()
    return [{"library": lib, "marked": int(m), "digitised": int(d),
             "percent": round(100.0 * int(d) / int(m), 1) if m else None}
            for lib, m, d in rows]


def work_list(order="oldest", library=None, limit=200):
    """Marked records with no digital copy: the oldest publications first, or the most
    requested (holds and loans of their copies) first."""
    only, params = "", []
    if library:
        only = " AND EXISTS (SELECT 1 FROM item i WHERE i.bib_id = b.id AND i.library = ?)"
        params.append(library)
    demand = ("(SELECT COUNT(*) FROM hold h WHERE h.bib_id = b.id) + (SELECT COUNT(*) "
              "FROM loan l JOIN item i2 ON i2.id = l.item_id WHERE i2.bib_id = b.id)")
    sort = (f"{demand} DESC, b.year" if order == "requested" else
            "CASE WHEN b.year IS NULL THEN 1 ELSE 0 END, b.year, b.title")
    rows = dialect.run(
        f"SELECT b.id, b.title, b.year, b.local_history, b.rare, b.special_value, {demand} "
        f"FROM bib b WHERE {MARKED} AND NOT {HAS_COPY}{only} ORDER BY {sort} LIMIT ?",
        (*params, limit)).fetchall()
    return [{"bib_id": r[0], "title": r[1], "year": r[2], "local_history": bool(r[3]),
             "rare": bool(r[4]), "special_value": bool(r[5]), "requests": int(r[6])}
            for r in rows]
