"""The cataloguing suggestion, measured: top-3 DDC accuracy on held-out records.

    python -m bench.classify

The records: the sample catalogue (appliance/demo/vn-catalogue.csv) and the MARC test
records (tests/fixtures/marc: ISO 2709 and MARCXML), the same record once however many
files hold it, those with a DDC number only. Each record in turn is held out; the index
is built from all the others exactly as `thuvien recommend build` builds it
(suggest.words.record_terms), and the held-out record's title and authors ask it, as the
cataloguing screen does. Counted: the record's own class among the three suggested, at
its first digit (main class) and its first three digits, beside a baseline that always
suggests the three most frequent classes of the others. Writes
bench/results/classify.json.
"""

import csv
import json
import sys
from collections import Counter
from pathlib import Path

from appliance.core import marcfiles
from appliance.core.suggest import classify, words

from .core import RESULTS

ROOT = Path(__file__).resolve().parent.parent
CSV = ROOT / "appliance" / "demo" / "vn-catalogue.csv"
MARC = ROOT / "tests" / "fixtures" / "marc"


def _split(text):
    return [p.strip() for p in (text or "").split(";") if p.strip()]


def sample_records():
    """{title, authors, ddc, subjects, series, source} of every record with a DDC class."""
    found = []
    with open(CSV, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            found.append({"title": row["title"], "authors": _split(row["authors"]),
                          "ddc": row["ddc"], "subjects": _split(row["subjects"]),
                          "series": row["series"] or None, "source": CSV.name})
    for path in sorted(MARC.iterdir()):
        if path.suffix not in (".dat", ".xml") or path.name.startswith("bad"):
            continue
        reader = marcfiles.read_marcxml if path.suffix == ".xml" else marcfiles.read_iso2709
        with open(path, "rb") as f:
            for parsed in reader(f):
                bib = getattr(parsed, "bib", None)
                if bib:
                    found.append({**{k: bib.get(k) for k in ("title", "authors", "ddc",
                                                             "subjects", "series")},
                                  "source": path.name})
    seen, out = set(), []
    for r in found:
        key = (" ".join(words.syllables(r["title"])),
               tuple(sorted(" ".join(words.syllables(a)) for a in r["authors"] or ())))
        ddc = (r["ddc"] or "").strip()
        if key in seen or not ddc[:3].isdigit():
            continue
        seen.add(key)
        out.append(dict(r, ddc=ddc))
    return out


def suggest(train, record, prior=()):
    docs = [words.record_terms(r["title"], r["authors"] or (), r["series"],
                               r["subjects"] or (), r["ddc"]) for r in train]
    postings = words.build(docs)
    found = words.nearest(words.title_terms(record["title"], record["authors"] or ()),
                          lambda terms: {t: postings[t] for t in terms if t in postings},
                          len(docs), k=classify.NEIGHBOURS)
    return classify.vote([(train[i], s) for i, s in found], prior)


def main(argv=None):
    records = sample_records()
    hits = Counter()
    for i, record in enumerate(records):
        train = records[:i] + records[i + 1:]
        common = [c for c, _n in Counter(r["ddc"][:3] for r in train).most_common(3)]
        common_digits = [d for d, _n in Counter(r["ddc"][0] for r in train).most_common(3)]
        alone = suggest(train, record)  # the neighbours' votes alone
        got = suggest(train, record, common)  # as the cataloguing screen shows it
        truth = record["ddc"]
        classes = [c["class"] for c in got["ddc"]]
        hits["top3_class"] += truth[:3] in classes
        hits["top1_class"] += classes[:1] == [truth[:3]]
        hits["top3_main"] += truth[0] in got["main_classes"]
        hits["neighbours_only_top3_class"] += truth[:3] in [c["class"] for c in alone["ddc"]]
        hits["neighbours_only_top3_main"] += truth[0] in alone["main_classes"]
        hits["no_similar_record"] += not alone["ddc"]
        hits["baseline_top3_class"] += truth[:3] in common
        hits["baseline_top3_main"] += truth[0] in common_digits
    n = len(records)
    out = {"records": n, "sources": dict(Counter(r["source"] for r in records)),
           "classes": len({r["ddc"][:3] for r in records}),
           "accuracy": {k: round(v / n, 3) for k, v in sorted(hits.items())}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "classify.json").write_text(json.dumps(out, indent=2, ensure_ascii=False))
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
