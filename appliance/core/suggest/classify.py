"""DDC class and subject headings for a record being catalogued, voted by the records
of the union catalogue it resembles most (words.nearest), with those records shown as
the evidence. The librarian decides: nothing here writes a record."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

NEIGHBOURS = 10
EVIDENCE = 3
CLASSES = 3
SUBJECTS = 5


def vote(neighbours: list[tuple[dict, float]], prior: Sequence[str] = ()) -> dict:
    """`neighbours`: (record as {"bib_id", "title", "ddc", "subjects", ...}, similarity),
    best first. DDC numbers are voted at three digits (the class a shelf is ordered
    by); each class is given with the fullest number its best voter carries. Fewer
    than three classes voted: the catalogue's most frequent classes (`prior`, three
    digits, most frequent first) fill the list, with a share of 0 (bench/README.md:
    it helps at the first digit)."""
    classes: dict[str, float] = defaultdict(float)
    fullest: dict[str, str] = {}
    subjects: dict[str, float] = defaultdict(float)
    for record, score in neighbours:
        ddc = (record.get("ddc") or "").strip()
        if ddc[:3].isdigit():
            classes[ddc[:3]] += score
            fullest.setdefault(ddc[:3], ddc)
        for subject in record.get("subjects") or ():
            subjects[subject] += score
    ranked = sorted(classes.items(), key=lambda c: (-c[1], c[0]))[:CLASSES]
    digits: dict[str, float] = defaultdict(float)
    for c, s in classes.items():
        digits[c[0]] += s
    total = sum(classes.values()) or 1.0
    suggested = [{"class": c, "ddc": fullest[c], "share": round(s / total, 2)}
                 for c, s in ranked]
    suggested += [{"class": c, "ddc": c, "share": 0.0} for c in prior
                  if c not in classes][:CLASSES - len(suggested)]
    main = [d for d, _s in sorted(digits.items(), key=lambda d: (-d[1], d[0]))[:CLASSES]]
    main += list(dict.fromkeys(c[0] for c in prior if c[0] not in main))[:CLASSES - len(main)]
    return {
        "ddc": suggested,
        "main_classes": main,
        "subjects": [s for s, _w in sorted(subjects.items(),
                                           key=lambda s: (-s[1], s[0]))[:SUBJECTS]],
        "evidence": [dict(record, similarity=round(score, 3))
                     for record, score in neighbours[:EVIDENCE]],
    }
