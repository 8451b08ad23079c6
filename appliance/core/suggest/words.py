"""A TF-IDF index of the union catalogue's folded words (fold.py), for records that
resemble each other: the content fallback of the suggestions and the DDC and subject
suggestion when a record is catalogued.

A record's terms: the syllables of its title and pairs of them (Vietnamese words are
often two syllables: "tiểu thuyết"), each author's whole name, and for the fallback its
series, subject headings and DDC class. The cataloguing suggestion asks with the title
and authors alone, which is what a librarian has typed when it is shown.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from ..fold import fold

_WORD = re.compile(r"[a-z0-9]+")
# A word in more than this share of a large catalogue ("và", "của") tells nothing and
# would make every lookup read a long list.
MAX_DF_SHARE = 0.2
MIN_DOCS_FOR_STOPWORDS = 200
DECIMALS = 4


def syllables(text: str | None) -> list[str]:
    return _WORD.findall(fold(text or ""))


def title_terms(title: str | None, authors: Iterable[str] = ()) -> list[str]:
    """What the cataloguing suggestion compares: title syllables and pairs, authors."""
    words = syllables(title)
    terms = [w for w in words if len(w) > 1 or w.isdigit()]
    terms += [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]
    terms += ["a:" + " ".join(syllables(name)) for name in authors if syllables(name)]
    return terms


def record_terms(title, authors=(), series=None, subjects=(), ddc=None) -> list[str]:
    """Everything the content fallback compares."""
    terms = title_terms(title, authors)
    if syllables(series):
        terms.append("se:" + " ".join(syllables(series)))
    terms += ["su:" + " ".join(syllables(s)) for s in subjects or () if syllables(s)]
    if ddc and ddc[:3].isdigit():
        terms.append("d:" + ddc[:3])
    return terms


def weigh(terms: list[str], idf: dict[str, float]) -> dict[str, float]:
    """(1 + log tf) * idf, scaled to length 1; terms the index lacks weigh nothing."""
    tf = Counter(t for t in terms if t in idf)
    vec = {t: (1 + math.log(n)) * idf[t] for t, n in tf.items()}
    norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
    return {t: w / norm for t, w in vec.items()}


def build(docs: list[list[str]]) -> dict[str, list[list]]:
    """Postings {term: [[doc number, weight], ...]} of the documents' term lists."""
    df: Counter = Counter()
    for terms in docs:
        df.update(set(terms))
    n = len(docs)
    limit = n * MAX_DF_SHARE if n >= MIN_DOCS_FOR_STOPWORDS else n + 1
    idf = {t: math.log((1 + n) / (1 + d)) + 1 for t, d in df.items() if d <= limit}
    postings: dict[str, list[list]] = defaultdict(list)
    for idx, terms in enumerate(docs):
        for term, w in weigh(terms, idf).items():
            postings[term].append([idx, round(w, DECIMALS)])
    return dict(postings)


def idf_of(postings_len: int, n_docs: int) -> float:
    """The idf a term's posting list stands for (the index ships postings, not idf)."""
    return math.log((1 + n_docs) / (1 + postings_len)) + 1


def nearest(query: list[str], postings_of, n_docs: int, k: int = 10,
            skip: int | None = None) -> list[tuple[int, float]]:
    """The `k` documents most like the query terms (cosine), best first.
    `postings_of(terms)` -> {term: [[idx, weight], ...]} for the terms the index has."""
    found = postings_of(sorted(set(query)))
    idf = {t: idf_of(len(p), n_docs) for t, p in found.items()}
    scores: dict[int, float] = defaultdict(float)
    for term, qw in weigh(query, idf).items():
        for idx, w in found[term]:
            scores[idx] += qw * w
    if skip is not None:
        scores.pop(skip, None)
    best = sorted(scores.items(), key=lambda s: (-s[1], s[0]))
    return best[:k]
