"""`thuvien recommend build` at the hub: the model file from every library's loans and
the union catalogue, kept in the data folder for sync to ship and loaded into the
hub's own tables for its OPAC."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from pathlib import Path

from .. import events, filestore
from ..models import Bib, Item, Loan, Patron, Setting
from . import borrowing, modelfile, store, words

log = logging.getLogger(__name__)

CHILD_CATEGORIES = store.CHILD_CATEGORIES
FILE = Path("suggest") / "model.json.gz"


def audience(category: str | None) -> str:
    """Children's categories get suggestions from children's loans, and their loans
    make only those."""
    return "child" if category in CHILD_CATEGORIES else "adult"


def history_off(keep_history: bool, stamps: dict | None) -> bool:
    """A patron who turned reading history off: the flag false *and* set by someone (its
    field clock, patron.saved). A card never asked keeps the default and is counted,
    within pairs of at least MIN_BORROWERS borrowers; one whose holder said no is not."""
    return not keep_history and "keep_history" in (stamps or {})


def _live_bibs() -> tuple[dict[str, str], list[Bib]]:
    """Where each record's loans count (a merged record's go to the one it joined), and
    the records that stand."""
    moved, live = {}, []
    for bib in Bib.select().where(~Bib.deleted):
        if bib.merged_into:
            moved[bib.id] = bib.merged_into
        else:
            live.append(bib)
    return moved, live


def histories(moved: dict[str, str]) -> tuple[dict[str, list[list[str]]], dict]:
    """Each counted patron's records in the order first borrowed, per audience."""
    patrons = {}
    left_out = 0
    for pid, category, keep, stamps in Patron.select(
            Patron.id, Patron.category, Patron.keep_history, Patron.field_hlc).where(
            ~Patron.deleted).tuples().iterator():  # erased histories' stand-in: a deleted card
        if history_off(keep, stamps):
            left_out += 1
            continue
        patrons[pid] = audience(category)
    out: dict[str, list[list[str]]] = {"adult": [], "child": []}
    loans = 0
    current: str | None = None
    seq: list[str] = []
    seen: set[str] = set()
    rows = (Loan.select(Loan.patron, Item.bib).join(Item, on=(Loan.item == Item.id))
            .order_by(Loan.patron, Loan.out_at).tuples())
    for pid, bib in rows.iterator():
        if pid != current:
            if seq and current in patrons:
                out[patrons[current]].append(seq)
            current, seq, seen = pid, [], set()
        bib = moved.get(bib, bib)
        loans += 1
        if bib not in seen:
            seen.add(bib)
            seq.append(bib)
    if seq and current in patrons:
        out[patrons[current]].append(seq)
    return out, {"loans": loans, "patrons_left_out": left_out}


def related(by_audience: dict[str, list[list[str]]]) -> dict[str, dict[str, list]]:
    numbers: dict[str, int] = {}
    names: list[str] = []

    def number(bib):
        if bib not in numbers:
            numbers[bib] = len(names)
            names.append(bib)
        return numbers[bib]
    out = {}
    for aud, seqs in by_audience.items():
        near = borrowing.neighbours([[number(b) for b in s] for s in seqs])
        out[aud] = {names[a]: [[names[b], n] for b, n in lst] for a, lst in sorted(near.items())}
    return out


def catalogue(live: list[Bib]) -> tuple[list[list], dict]:
    docs = [[b.id, b.ddc] for b in live]
    terms = words.build([words.record_terms(b.title, b.authors or (), b.series,
                                            b.subjects or (), b.ddc) for b in live])
    return docs, terms


def build(ctx, now_ms: int | None = None) -> dict:
    """Build, write and load a model; returns what was built and how long it took."""
    started = time.perf_counter()
    steps = {}

    def step(name, fn, *args):
        t = time.perf_counter()
        out = fn(*args)
        steps[name] = round(time.perf_counter() - t, 2)
        return out
    moved, live = step("records", _live_bibs)
    by_audience, counted = step("loans", histories, moved)
    rel = step("co_borrowing", related, by_audience)
    docs, terms = step("words", catalogue, live)
    previous = store.current_id() or 0
    model_id = max((now_ms or int(time.time() * 1000)), previous + 1)
    model = {"id": model_id, "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "min_borrowers": borrowing.MIN_BORROWERS, "related": rel, "docs": docs,
             "terms": terms}
    data = step("file", modelfile.pack, model)
    if ctx.files is not None:
        write(ctx.files, data)
    done_ms = int(time.time() * 1000)
    with events.writing(ctx):
        step("tables", store.load, ctx, model)
        Setting.insert(key="suggest_built_ms", value=done_ms).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: done_ms}).execute()
    stats = {"id": model_id, **counted,
             "records_with_neighbours": {a: len(r) for a, r in rel.items()},
             "records_indexed": len(docs), "terms": len(terms), "bytes": len(data),
             "seconds": round(time.perf_counter() - started, 2), "steps_s": steps}
    log.info("suggestions built: %s", stats)
    return stats


def write(files, data: bytes) -> Path:
    """Written whole, then renamed: sync never reads half a file. `files`: a context's
    file store (core/filestore.py) or a data folder."""
    path = filestore.at(files).write(FILE)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def read(files) -> bytes | None:
    path = filestore.at(files).read(FILE) if files is not None else None
    return path.read_bytes() if path is not None and path.is_file() else None


DAILY_MS = 24 * 3600 * 1000


def due(now_ms: int | None = None) -> bool:
    """Once a day at the hub (the maintenance loop asks)."""
    row = Setting.get_or_none(Setting.key == "suggest_built_ms")
    now_ms = now_ms or int(time.time() * 1000)
    return row is None or not isinstance(row.value, int) or now_ms - row.value >= DAILY_MS
