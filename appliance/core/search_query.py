"""What both search indexes share: the indexed fields, a record's texts, and the
query language (`title:"truyện kiều" author:du hoa*`) parsed into terms."""

import json
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from . import isbn, lookalikes
from .errors import N_, Invalid

FIELDS = ("title", "authors", "subjects", "series", "publisher", "notes", "isbn", "callno")
FIELD_ALIASES = {"title": "title", "author": "authors", "authors": "authors",
                 "subject": "subjects", "subjects": "subjects", "series": "series",
                 "publisher": "publisher", "isbn": "isbn", "callno": "callno", "call": "callno",
                 "note": "notes", "notes": "notes"}
FILTER_KEYS = ("in_library", "item_type", "language", "year_from", "year_to", "available")
# Columns of `bib` the index reads, and of `item` (per copy of the record).
BIB_COLUMNS = ("id", "title", "authors", "subjects", "series", "publisher", "notes", "isbn",
               "ddc", "year", "language", "deleted")
ITEM_COLUMNS = ("call_number", "accession_date", "library", "item_type")
# Facets list at most this many values each.
FACET_VALUES = 20
# What a search returns per hit when the facets count its hits (`facets_from`).
FACET_COLUMNS = "d.bib_id, d.language, d.year, d.libraries, d.item_types"

_TERM_RE = re.compile(r'(?:(\w+):)?(?:"([^"]*)"|(\S+))')
# An ISBN as people write it: digits in groups split by hyphens or spaces, an X last,
# perhaps after the word "ISBN" (which no record's text holds as a word).
_ISBN_RE = re.compile(r"(?<![\w-])(?:(?i:isbn)(?:-?1[03])?[:\s]*)?(\d[\d -]{8,20}[\dXx])"
                      r"(?![\w-])")
# What one search may ask. Each word is a lookup in the index, a prefix one a walk of
# every indexed word that starts so ("a*" is thousands of them): 20,000 "a*" terms
# took a minute, and twenty 3-letter prefixes still cost PostgreSQL 0.2-0.3 s on
# 200,000 records. A pasted title fits; more is refused with a message, not cut short.
MAX_QUERY_CHARS = 300
MAX_WORDS = 20
MIN_PREFIX = 3
MAX_PREFIXES = 4


class TimedOut(Exception):
    """A search ran past its time and was stopped (search.time_limit)."""


@dataclass
class Term:
    words: list
    column: str | None = None
    prefix: bool = False
    # Other spellings of the same term (lists of words): an ISBN's other form, a word
    # typed wholly in look-alike letters read as Latin. A record matching any matches.
    alt: list = dataclass_field(default_factory=list)

    def spellings(self):
        return [self.words, *self.alt]


def tokens(text):
    """Words as both indexes split them (letters, digits; everything else separates)."""
    return [t for t in re.split(r"[^\w]+", text) if t]


def parse(q):
    """`title:"truyện kiều" author:du hoa*` → terms (column, words, prefix).

    The query is read as typed on any keyboard: compatibility-normalised (decomposed
    marks composed, full-width letters plain), look-alike letters of other alphabets
    read as Latin (`lookalikes`), an ISBN with hyphens or spaces as one word that
    also finds its other form. Beyond the limits above it raises Invalid."""
    q = unicodedata.normalize("NFKC", q or "")
    if len(q) > MAX_QUERY_CHARS:
        raise Invalid("query_too_long", N_("A search may be at most %(max)s characters "
                                           "long."), max=MAX_QUERY_CHARS)
    terms = []
    for m in _TERM_RE.finditer(_ISBN_RE.sub(_compact_isbn, q)):
        name, phrase, word = m.group(1), m.group(2), m.group(3)
        column = FIELD_ALIASES.get((name or "").lower())
        if name and column is None:  # "ha:noi" is a word, not a field
            phrase, word = None, f"{name}:{phrase if phrase is not None else word}"
        text = phrase if phrase is not None else word
        prefix = phrase is None and text.endswith("*")
        term = _term(tokens(text), column, prefix)
        if term is not None:
            terms.append(term)
    _check(terms)
    return terms


def _compact_isbn(m):
    compact = isbn.compact(m.group(1))
    return compact if isbn.valid(compact) else m.group(0)


def _term(words, column, prefix):
    if not words:
        return None
    read = [lookalikes.spellings(w) for w in words]
    term = Term([r[-1] if len(r) == 1 else r[0] for r in read], column, prefix)
    latin = [r[-1] for r in read]
    if latin != term.words:
        term.alt.append(latin)
    other = isbn.other_form(words[0].upper()) if len(words) == 1 else None
    if other:
        term.alt.append([other])
    return term


def _check(terms):
    if sum(len(t.words) for t in terms) > MAX_WORDS:
        raise Invalid("query_too_many_words", N_("A search may have at most %(max)s words."),
                      max=MAX_WORDS)
    if sum(t.prefix for t in terms) > MAX_PREFIXES:
        raise Invalid("too_many_prefixes", N_("A search may have at most %(max)s words ending "
                                              "in *."), max=MAX_PREFIXES)
    if any(t.prefix and len(t.words[-1]) < MIN_PREFIX for t in terms):
        raise Invalid("prefix_too_short", N_("A word ending in * needs at least %(min)s "
                                             "letters before the *."), min=MIN_PREFIX)


def texts(bib, calls):
    """{field: text} of a record (a row as a dict of BIB_COLUMNS) and its call numbers."""
    calls = " ".join(sorted(set(calls) | {bib["ddc"] or ""}))
    return {
        "title": bib["title"] or "", "authors": " ; ".join(_list(bib["authors"])),
        "subjects": " ; ".join(_list(bib["subjects"])),
        "series": bib["series"] or "", "publisher": bib["publisher"] or "",
        "notes": bib["notes"] or "", "isbn": bib["isbn"] or "", "callno": calls,
    }


def _list(value):
    return json.loads(value or "[]") if isinstance(value, str) else (value or [])


def copy_summary(items):
    """Per record, from its copies (dicts of ITEM_COLUMNS): the newest accession date and
    the sorted libraries and item types, which facets count without reading copies."""
    return {"newest": max((i["accession_date"] or "" for i in items), default=""),
            "libraries": sorted({i["library"] for i in items if i["library"]}),
            "item_types": sorted({i["item_type"] for i in items if i["item_type"]})}


def indexable(bib):
    return bib is not None and not bib["deleted"] and bool(bib["title"])


def filtered(filters):
    return any(filters.get(k) not in (None, "", False) for k in FILTER_KEYS)


def item_filter(filters, holds, param="?", unindexed=""):
    """The copy filters on the record's row `d`, or ''.

    Library and item type are answered by the record's own row, which lists its
    copies' libraries and item types: `holds(column, value)` gives the test and its
    argument. "Available" (a copy on the shelf, within those filters) reads the copies,
    found by the record (a few), never by the library (tens of thousands for every
    match: 10 s for a common word on 20,000 records). SQLite's planner picks the
    library's index unless told not to: `unindexed="+"` makes its column an expression
    no index serves."""
    conds, args = [], []
    for key, column in (("in_library", "libraries"), ("item_type", "item_types")):
        if filters.get(key):
            sql, arg = holds(column, filters[key])
            conds.append(sql)
            args.append(arg)
    if filters.get("available"):
        copy, copy_args = ["i.status = 'available'"], []
        for key, column in (("in_library", "library"), ("item_type", "item_type")):
            if filters.get(key):
                copy.append(f"{unindexed}i.{column} = {param}")
                copy_args.append(filters[key])
        conds.append("EXISTS (SELECT 1 FROM item i WHERE i.bib_id = d.bib_id AND "
                     + " AND ".join(copy) + ")")
        args += copy_args
    return "".join(" AND " + c for c in conds), args


def doc_filter(filters, param="?"):
    conds, args = [], []
    if filters.get("language"):
        conds.append(f"d.language = {param}")
        args.append(filters["language"])
    for key, op in (("year_from", ">="), ("year_to", "<=")):
        if filters.get(key) not in (None, ""):
            conds.append(f"d.year {op} {param}")
            args.append(int(filters[key]))
    return "".join(" AND " + c for c in conds), args


def facet_counts(rows):
    """Facet lists from (facet, value, count) rows: most frequent first, decades newest
    first, at most FACET_VALUES each; `available` is one number."""
    out: dict[str, Any] = {"language": [], "decade": [], "library": [], "item_type": [],
                           "available": 0}
    for name, value, count in rows:
        if name == "available":
            out["available"] = int(count)
        elif value is not None:
            out[name].append([value, int(count)])
    for name in ("language", "library", "item_type"):
        out[name] = sorted(out[name], key=lambda r: (-r[1], r[0]))[:FACET_VALUES]
    out["decade"] = sorted(out["decade"], reverse=True)[:FACET_VALUES]
    return out


def facets_from(docs, available):
    """Facet lists of the given hits, each (bib_id, language, year, libraries, item
    types) as the index holds them, with the number of them that have a copy on the
    shelf: counted here from the rows the search read, not looked up again."""
    counts: Counter = Counter()
    for _, language, year, libraries, item_types in docs:
        counts["language", language] += 1
        if year is not None:
            counts["decade", year // 10 * 10] += 1
        for name, values in (("library", libraries), ("item_type", item_types)):
            for value in _list(values):
                counts[name, value] += 1
    return facet_counts([(name, value, n) for (name, value), n in counts.items()]
                        + [("available", None, available)])
