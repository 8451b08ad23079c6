"""Item-to-item co-borrowing ("patrons who borrowed this also borrowed").

Pure functions over patrons' histories (record numbers in the order first borrowed), so
the benchmark and the hub run the same code. A pair counts once per patron, so its
count is the number of distinct borrowers; pairs with fewer than MIN_BORROWERS are
dropped before anything is kept, so no neighbour list can point at one person's reading.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable
from itertools import chain, repeat
from operator import lshift, or_

MIN_BORROWERS = 5
TOP = 10
# Pairs are taken between records a patron borrowed within this many of each other:
# what was read around the same time says more than a whole life's reading, and it
# bounds the work at WINDOW pairs a loan (a million loans build in seconds).
WINDOW = 20
SHIFT = 32


def pair_counts(histories: Iterable[list[int]], window: int = WINDOW) -> Counter:
    """Distinct borrowers of each pair of records (key: low << 32 | high).

    Built from map() and Counter.update, which run in C: a pure Python loop over a
    million loans' twenty pairs each took a minute, this takes seconds."""
    counts: Counter = Counter()
    shift = repeat(SHIFT)
    for seq in histories:
        pairs = [map(or_, map(lshift, map(min, seq, seq[d:]), shift), map(max, seq, seq[d:]))
                 for d in range(1, min(window, len(seq) - 1) + 1)]
        counts.update(chain.from_iterable(pairs))
    return counts


def _readers(histories: Iterable[list[int]]) -> Counter:
    readers: Counter = Counter()
    for seq in histories:
        readers.update(seq)
    return readers


def neighbours(histories: list[list[int]], minimum: int = MIN_BORROWERS, top: int = TOP,
               window: int = WINDOW) -> dict[int, list[tuple[int, int]]]:
    """Each record's best `top` neighbours as (record, borrowers), best first.

    Ranked by cosine (borrowers of both over the root of each one's borrowers), so a
    record everyone borrows does not crowd every list: that is the popularity the
    benchmark's baseline already gives."""
    readers = _readers(histories)
    # a record fewer than `minimum` patrons borrowed can be in no pair that counts
    kept = [[b for b in seq if readers[b] >= minimum] for seq in histories]
    counts = pair_counts(kept, window)
    mask = (1 << SHIFT) - 1
    ranked: dict[int, list[tuple[float, int, int]]] = {}
    for key, n in [kn for kn in counts.items() if kn[1] >= minimum]:
        a, b = key >> SHIFT, key & mask
        score = n / math.sqrt(readers[a] * readers[b])
        _keep(ranked, a, (score, -b, n), top)
        _keep(ranked, b, (score, -a, n), top)
    return {a: [(-neg, n) for _s, neg, n in sorted(heap, reverse=True)]
            for a, heap in ranked.items()}


def _keep(ranked, a, entry, top):
    heap = ranked.setdefault(a, [])
    if len(heap) < top:
        heapq.heappush(heap, entry)
    elif entry > heap[0]:
        heapq.heapreplace(heap, entry)


def recommend(recent: list, neighbours_of, exclude: set, k: int = TOP) -> list:
    """For a reader: the neighbours of what they borrowed lately (most recent first),
    each voted by how recent the borrowed record and how high it stands in that record's
    list; nothing in `exclude` (what they have read)."""
    votes: dict = {}
    for rank, bib in enumerate(dict.fromkeys(recent)):
        for pos, other in enumerate(neighbours_of(bib)):
            if other not in exclude:
                votes[other] = votes.get(other, 0.0) + 1.0 / (1 + rank) / (1 + pos)
    return sorted(votes, key=lambda b: (-votes[b], b))[:k]


def popular(histories: Iterable[list[int]], top: int = TOP) -> list[int]:
    """The records with the most borrowers: the baseline a recommender must beat."""
    return [b for b, _n in _readers(histories).most_common(top)]
