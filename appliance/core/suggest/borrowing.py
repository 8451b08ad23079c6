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

MIN_BORROWERS = 5
TOP = 10
# Pairs are taken between records a patron borrowed within this many of each other:
# what was read around the same time says more than a whole life's reading, and it
# bounds the work at WINDOW pairs a loan (a million loans build in seconds).
WINDOW = 20
SHIFT = 32


def pair_counts(histories: Iterable[list[int]], window: int = WINDOW) -> Counter:
    """Distinct borrowers of each pair of records (key: low << 32 | high)."""
    counts: Counter = Counter()
    for seq in histories:
        keys = []
        for i, a in enumerate(seq):
            for b in seq[i + 1:i + 1 + window]:
                keys.append(a << SHIFT | b if a < b else b << SHIFT | a)
        counts.update(keys)  # counted in C
    return counts


def neighbours(histories: list[list[int]], minimum: int = MIN_BORROWERS, top: int = TOP,
               window: int = WINDOW) -> dict[int, list[tuple[int, int]]]:
    """Each record's best `top` neighbours as (record, borrowers), best first.

    Ranked by cosine (borrowers of both over the root of each one's borrowers), so a
    record everyone borrows does not crowd every list: that is the popularity the
    benchmark's baseline already gives."""
    counts = pair_counts(histories, window)
    readers: Counter = Counter()
    for seq in histories:
        readers.update(seq)
    mask = (1 << SHIFT) - 1
    ranked: dict[int, list[tuple[float, int, int]]] = {}
    for key, n in counts.items():
        if n < minimum:
            continue
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


def popular(histories: Iterable[list[int]], top: int = TOP) -> list[int]:
    """The records with the most borrowers: the baseline a recommender must beat."""
    readers: Counter = Counter()
    for seq in histories:
        readers.update(seq)
    return [b for b, _n in readers.most_common(top)]
