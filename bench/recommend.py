"""Reading suggestions, measured: recall@10 against baselines, the hub's build, a lookup.

    python -m bench.recommend [--loans 1040000] [--patrons 20000] [--records 20000]
                              [--eval 3000] [--seed 17]

A town is generated with planted structure (bench/README.md says how): series read in
order, favourite authors, children's and adults' shelves and school reading lists, and
popularity skewed within each genre. Each patron's last two loans are held out; the
rest is put in a real SQLite database as the hub holds it (records, copies, patrons,
loans) and `thuvien recommend build`'s own code builds the model from it (timed: goal
under 60 s for 1,000,000 loans). The file is loaded into a fresh branch database, where
each lookup is timed (goal under 5 ms). In the same run, for a sample of patrons:
recall@10 of the recommender (what "Gợi ý cho bạn" shows, filled up with the popular
records of the patron's audience when the borrowed-together lists give fewer than ten),
of a popularity baseline (the ten most borrowed of the audience, unread) and of a random
baseline (ten unread records at random). Goal: at least twice the popularity baseline.
Writes bench/results/recommend.json.
"""

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from appliance.core.datadir import init
from appliance.core.models import Bib, Item, Loan, Patron, database_proxy
from appliance.core.suggest import borrowing, build, modelfile, store

from .core import RESULTS, pct

HELD_OUT = 2
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
K = 10
GOAL_BUILD_S = 60.0
GOAL_LOOKUP_MS = 5.0
GOAL_RATIO = 2.0


class Town:
    """Records, patrons and their loans in order, with the structure planted."""

    def __init__(self, rng, n_records, n_patrons, n_loans):
        self.rng = rng
        self.records = []  # (title, author, series, genre, audience)
        self.genres = {"adult": [f"g{i}" for i in range(20)],
                       "child": [f"c{i}" for i in range(6)]}
        self.by_genre = {g: [] for gs in self.genres.values() for g in gs}
        self.by_author = {}
        self.series = []  # lists of record numbers, in reading order
        self._catalogue(n_records)
        self.lists = [rng.sample(self._shelf("child"), 8) for _ in range(40)]
        self.patrons = [self._patron(i) for i in range(n_patrons)]
        per = n_loans / n_patrons
        self.loans = [self._history(p, max(HELD_OUT + 3, int(rng.expovariate(1 / per))))
                      for p in self.patrons]

    def _shelf(self, audience):
        return [r for g in self.genres[audience] for r in self.by_genre[g]]

    def _catalogue(self, n):
        rng = self.rng
        while len(self.records) < n:
            audience = "child" if rng.random() < 0.3 else "adult"
            genre = rng.choice(self.genres[audience])
            author = f"{genre}-a{rng.randrange(120)}"
            volumes = rng.randint(3, 10) if rng.random() < 0.08 else 1
            series = [] if volumes > 1 else None
            for v in range(volumes):
                idx = len(self.records)
                self.records.append((f"{author} {idx}" + (f" tập {v + 1}" if series is not None
                                                          else ""), author,
                                     f"{author}-s{idx}" if series is not None else None,
                                     genre, audience))
                self.by_genre[genre].append(idx)
                self.by_author.setdefault(author, []).append(idx)
                if series is not None:
                    series.append(idx)
            if series:
                self.series.append(series)
        # popularity skewed within a genre: a record's place in its list is its rank
        for genre in self.by_genre:
            rng.shuffle(self.by_genre[genre])
        self.series_of = {r: s for s in self.series for r in s}

    def _patron(self, i):
        rng = self.rng
        audience = "child" if rng.random() < 0.35 else "adult"
        category = ("pupil" if rng.random() < 0.6 else "child") if audience == "child" else \
            ("staff" if rng.random() < 0.02 else "adult")
        genres = rng.sample(self.genres[audience], 2)
        authors = [self.records[rng.choice(self.by_genre[g][:200])][1] for g in genres
                   for _ in range(2)]
        school = rng.randrange(len(self.lists)) if category == "pupil" else None
        return {"id": f"p{i}", "category": category, "audience": audience, "genres": genres,
                "authors": authors, "school": school}

    def _zipf(self, items):
        n = len(items)
        return items[min(n - 1, int(n * self.rng.random() ** 3))]

    def _history(self, patron, length):
        rng, out, seen = self.rng, [], set()
        reading = []  # series in progress
        school = list(self.lists[patron["school"]]) if patron["school"] is not None else []
        while len(out) < length:
            roll = rng.random()
            if reading and roll < 0.35:
                series = reading[0]
                nxt = [r for r in series if r not in seen]
                pick = nxt[0] if nxt else None
                if not nxt or len(nxt) == 1:
                    reading.pop(0)
            elif school and roll < 0.5:
                pick = school.pop(0)
            elif roll < 0.7:
                pick = rng.choice(self.by_author[rng.choice(patron["authors"])])
            elif roll < 0.95:
                pick = self._zipf(self.by_genre[rng.choice(patron["genres"])])
            else:
                pick = self._zipf(self._shelf(patron["audience"]))
            if pick is None or pick in seen:
                continue
            if pick in self.series_of and pick not in reading:
                series = self.series_of[pick]
                pick = next(r for r in series if r not in seen)
                if series.index(pick) < len(series) - 1:
                    reading.append(series)
            seen.add(pick)
            out.append(pick)
        return out


def fill_database(ctx, town, train):
    """The hub's state tables as the projector leaves them (written directly: the build
    reads these, and a million loans through the event log would time the log)."""
    rows = [{"id": f"b{i:07d}", "title": t, "authors": [a], "series": s, "subjects": [g],
             "ddc": None, "created_at": "2025-01-01T00:00:00+00:00"}
            for i, (t, a, s, g, _aud) in enumerate(town.records)]
    items = [{"id": f"i{i:07d}", "bib": f"b{i:07d}", "library": ctx.library,
              "barcode": f"{i:07d}", "accession_date": "2025-01-01"}
             for i in range(len(town.records))]
    people = [{"id": p["id"], "library": ctx.library, "card": p["id"].upper(),
               "name": p["id"], "category": p["category"],
               "created_at": "2025-01-01T00:00:00+00:00"} for p in town.patrons]
    with database_proxy.atomic():
        for model, data in ((Bib, rows), (Item, items), (Patron, people)):
            for start in range(0, len(data), 2000):
                model.insert_many(data[start:start + 2000]).execute()
    loans = ((f"{p['id']}-{n}", f"i{r:07d}", p["id"], ctx.library,
              (START + timedelta(hours=n)).isoformat(),
              "2030-01-01", "2025-12-31T00:00:00+00:00")
             for p, seq in zip(town.patrons, train, strict=True) for n, r in enumerate(seq))
    # a million rows through the driver's executemany: peewee's dicts took a minute
    with database_proxy.atomic():
        cur = ctx.db.cursor()
        cur.executemany("INSERT INTO loan (id, item_id, patron_id, library, out_at, due_date, "
                        "returned_at, out_hlc, renewals, fee) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 0)",
                        loans)
    return Loan.select().count()


def evaluate(town, train, held, sample, neighbours_of, rng):
    """recall@10 of the recommender and both baselines over the sampled patrons."""
    popular = {aud: Counter() for aud in ("adult", "child")}
    for p, seq in zip(town.patrons, train, strict=True):
        popular[p["audience"]].update(seq)
    ranked = {aud: [r for r, _n in c.most_common(500)] for aud, c in popular.items()}
    hits = {"recommender": 0, "popularity": 0, "random": 0}
    total = 0
    n_records = len(town.records)
    for i in sample:
        p, seq, truth = town.patrons[i], train[i], set(held[i])
        read = set(seq)
        fill = [r for r in ranked[p["audience"]] if r not in read]
        rec = borrowing.recommend(list(reversed(seq[-10:])),
                                  lambda r, aud=p["audience"]: neighbours_of(r, aud), read, K)
        rec += [r for r in fill if r not in rec][:K - len(rec)]
        rand = set()
        while len(rand) < K:
            r = rng.randrange(n_records)
            if r not in read:
                rand.add(r)
        hits["recommender"] += len(truth & set(rec))
        hits["popularity"] += len(truth & set(fill[:K]))
        hits["random"] += len(truth & rand)
        total += len(truth)
    return {name: round(h / total, 4) for name, h in hits.items()}, total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loans", type=int, default=1_040_000)
    parser.add_argument("--patrons", type=int, default=20_000)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--eval", type=int, default=3000, help="patrons sampled for recall")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    town = Town(rng, args.records, args.patrons, args.loans)
    train = [seq[:-HELD_OUT] for seq in town.loans]
    held = [seq[-HELD_OUT:] for seq in town.loans]
    generated_s = time.perf_counter() - started
    folder = Path(tempfile.mkdtemp(prefix="bench-recommend-"))
    try:
        hub = init(folder / "hub", "PY-TV00", "Thư viện thị xã", "hub")
        loans = fill_database(hub, town, train)
        t, cpu = time.perf_counter(), time.process_time()
        built = build.build(hub)
        build_s, build_cpu_s = time.perf_counter() - t, time.process_time() - cpu
        data = build.read(hub.data_dir)
        hub.close()
        branch = init(folder / "branch", "PY-DH01", "Thư viện phường", "branch")
        t = time.perf_counter()
        store.load(branch, modelfile.unpack(data))
        load_s = time.perf_counter() - t
        number = {f"b{i:07d}": i for i in range(len(town.records))}
        lookups = []

        def neighbours_of(r, aud):
            t0 = time.perf_counter()
            found = store.borrowed_with(f"b{r:07d}", aud)
            lookups.append(time.perf_counter() - t0)
            return [number[b] for b in found]
        sample = rng.sample(range(len(town.patrons)), min(args.eval, len(town.patrons)))
        recall, held_total = evaluate(town, train, held, sample, neighbours_of, rng)
        related_ms = []
        for r in rng.sample(range(len(town.records)), 300):
            t0 = time.perf_counter()
            store.related(f"b{r:07d}")
            related_ms.append((time.perf_counter() - t0) * 1000)
        branch.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    lookup_ms = [s * 1000 for s in lookups]
    ratio = recall["recommender"] / recall["popularity"] if recall["popularity"] else None
    out = {
        "records": len(town.records), "patrons": len(town.patrons), "loans_built_from": loans,
        "held_out_per_patron": HELD_OUT, "patrons_evaluated": len(sample),
        "held_out_loans_evaluated": held_total, "generate_s": round(generated_s, 1),
        "recall_at_10": recall,
        "ratio_to_popularity": round(ratio, 2) if ratio else None,
        "build_s": round(build_s, 2), "build_cpu_s": round(build_cpu_s, 2),
        "build_steps_s": built.get("steps_s"), "model_bytes": built["bytes"],
        "records_with_neighbours": built["records_with_neighbours"],
        "branch_load_s": round(load_s, 2),
        "lookup_ms": {"p50": round(pct(lookup_ms, 50), 3), "p95": round(pct(lookup_ms, 95), 3),
                      "max": round(max(lookup_ms), 3), "n": len(lookup_ms)},
        "related_ms": {"p50": round(pct(related_ms, 50), 2), "p95": round(pct(related_ms, 95), 2),
                       "max": round(max(related_ms), 2), "n": len(related_ms)},
        "goals": {"ratio_to_popularity": GOAL_RATIO, "build_s": GOAL_BUILD_S,
                  "lookup_ms": GOAL_LOOKUP_MS},
    }
    out["goal_met"] = bool(ratio and ratio >= GOAL_RATIO and build_s < GOAL_BUILD_S
                           and out["lookup_ms"]["p95"] < GOAL_LOOKUP_MS)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "recommend.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return 0 if out["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
