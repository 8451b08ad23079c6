"""The model as a device holds it (models.SuggestRelated, SuggestDoc, SuggestTerm), and
the lookups the OPAC, the kiosk, the API and the cataloguing screen make.

A record's neighbours are one row read by its key; the content fallback (a new record,
a small library) reads the postings of the record's own words, a few rows by key."""

from __future__ import annotations

from ..errors import N_, Invalid
from ..models import (
    Bib,
    Item,
    Loan,
    Setting,
    SuggestDoc,
    SuggestRelated,
    SuggestTerm,
    database_proxy,
)
from . import borrowing, classify, words

LIMIT = 10
CHILD_CATEGORIES = ("child", "pupil")
# A content neighbour must share more than one common syllable ("kỹ" and "ký" fold alike).
MIN_SIMILARITY = 0.15
CHUNK = 500
KEY = "suggest_model"


def current_id() -> int | None:
    row = Setting.get_or_none(Setting.key == KEY)
    return row.value.get("id") if row is not None and isinstance(row.value, dict) else None


def load(ctx, model: dict) -> None:
    """Replace what this device holds with `model` (modelfile.unpack's dict), at once."""
    rel = [{"key": f"{aud}|{bib}", "items": items}
           for aud, lists in (model.get("related") or {}).items()
           for bib, items in lists.items()]
    docs = [{"idx": i, "bib": bib, "ddc": ddc} for i, (bib, ddc) in enumerate(model["docs"])]
    terms = [{"term": t[:64], "postings": p} for t, p in model["terms"].items() if len(t) <= 64]
    with database_proxy.atomic():
        for table, rows in ((SuggestRelated, rel), (SuggestDoc, docs), (SuggestTerm, terms)):
            table.delete().execute()
            for start in range(0, len(rows), CHUNK):
                table.insert_many(rows[start:start + CHUNK]).execute()
        info = {"id": model["id"], "built_at": model.get("built_at")}
        Setting.insert(key=KEY, value=info).on_conflict(
            conflict_target=[Setting.key], update={Setting.value: info}).execute()


def _postings(terms: list[str]) -> dict[str, list]:
    if not terms:
        return {}
    return {t.term: t.postings for t in SuggestTerm.select().where(SuggestTerm.term << terms)}


def _n_docs() -> int:
    return SuggestDoc.select().count()


def _why(bib: Bib, other: Bib) -> str:
    """What a content neighbour shares with the record, the strongest tie first."""
    if bib.series and words.syllables(bib.series) == words.syllables(other.series):
        return "series"
    if set(bib.authors or ()) & set(other.authors or ()):
        return "author"
    if set(bib.subjects or ()) & set(other.subjects or ()):
        return "subject"
    if bib.ddc and other.ddc and bib.ddc[:3] == other.ddc[:3]:
        return "ddc"
    return "title"


def _live(ids: list[str]) -> dict[str, Bib]:
    if not ids:
        return {}
    return {b.id: b for b in Bib.select().where((Bib.id << ids) & ~Bib.deleted
                                               & Bib.merged_into.is_null())}


def borrowed_with(bib_id: str, audience: str) -> list[str]:
    row = SuggestRelated.get_or_none(SuggestRelated.key == f"{audience}|{bib_id}")
    return [b for b, _n in row.items] if row is not None else []


def like(bib: Bib, limit: int = LIMIT) -> list[str]:
    """Records that share the most telling words with `bib` (content fallback)."""
    terms = words.record_terms(bib.title, bib.authors or (), bib.series, bib.subjects or (),
                               bib.ddc)
    doc = SuggestDoc.get_or_none(SuggestDoc.bib == bib.id)
    found = words.nearest(terms, _postings, _n_docs(), k=limit + 1,
                          skip=doc.idx if doc is not None else None)
    docs = {d.idx: d.bib for d in SuggestDoc.select().where(
        SuggestDoc.idx << [i for i, _s in found])} if found else {}
    return [docs[i] for i, s in found
            if i in docs and docs[i] != bib.id and s >= MIN_SIMILARITY][:limit]


def _same_work(bib: Bib, other: Bib) -> bool:
    """Another record of the same book (an edition, a duplicate not yet merged)."""
    return (words.syllables(bib.title) == words.syllables(other.title)
            and set(bib.authors or ()) == set(other.authors or ()))


def audience_of(patron) -> str | None:
    """The list a patron's suggestions come from: children's categories their own."""
    if patron is None:
        return None
    return "child" if patron.category in CHILD_CATEGORIES else "adult"


def audiences(audience: str | None) -> tuple[str, ...]:
    """A child sees children's loans only; anyone else the adults' first, then the
    children's (a picture book viewed without logging in)."""
    return ("child",) if audience == "child" else ("adult", "child")


def related(bib_id: str, audience: str | None = None, limit: int = LIMIT) -> list[dict]:
    """Up to `limit` {"bib_id", "title", "why"}: borrowed together first, then alike."""
    bib = Bib.get_or_none(Bib.id == bib_id)
    if bib is None:
        return []
    picked: list[tuple[str, str]] = []
    for aud in audiences(audience):
        picked += [(b, "borrowed_together") for b in borrowed_with(bib.id, aud)]
    seen = {bib.id}
    unique = []
    for p in picked:
        if p[0] not in seen:
            seen.add(p[0])
            unique.append(p)
    picked = unique
    if len(picked) < limit:
        picked += [(b, "") for b in like(bib, limit) if b not in seen]
    rows = _live([b for b, _w in picked])
    out: list[dict] = []
    for other_id, why in picked:
        other = rows.get(other_id)
        if other is not None and len(out) < limit and not _same_work(bib, other):
            out.append({"bib_id": other.id, "title": other.title,
                        "why": why or _why(bib, other)})
    return out


def for_patron(patron, limit: int = 5, recent: int = 20) -> list[dict]:
    """"Gợi ý cho bạn": neighbours of what the patron borrowed lately, none they have
    borrowed already. Read here, for the patron alone; nothing is kept."""
    aud = audience_of(patron)
    mine = [bib for (bib,) in Loan.select(Item.bib).join(Item, on=(Loan.item == Item.id))
            .where(Loan.patron == patron.id).order_by(Loan.out_at.desc()).limit(recent)
            .tuples().iterator()]
    aud = aud or "adult"
    best = borrowing.recommend(mine, lambda bib: borrowed_with(bib, aud), set(mine),
                               limit * 2)
    rows = _live(best[:limit * 2])
    return [{"bib_id": b, "title": rows[b].title, "why": "borrowed_together"}
            for b in best if b in rows][:limit]


def suggest_classification(title: str, authors: list[str]) -> dict:
    """DDC classes and subject headings for a record being catalogued, with evidence."""
    if not (title or "").strip():
        raise Invalid("title_required", N_("Give the title to suggest a class for."))
    terms = words.title_terms(title, authors)
    found = words.nearest(terms, _postings, _n_docs(), k=classify.NEIGHBOURS * 3)
    docs = {d.idx: d for d in SuggestDoc.select().where(
        SuggestDoc.idx << [i for i, _s in found])} if found else {}
    labelled = [(docs[i], s) for i, s in found if i in docs and docs[i].ddc]
    rows = _live([d.bib for d, _s in labelled])
    near = [({"bib_id": d.bib, "title": rows[d.bib].title,
              "authors": rows[d.bib].authors or [], "ddc": rows[d.bib].ddc,
              "subjects": rows[d.bib].subjects or []}, s)
            for d, s in labelled if d.bib in rows][:classify.NEIGHBOURS]
    return classify.vote(near, frequent_classes())


_frequent: dict[int | None, list[str]] = {}


def frequent_classes() -> list[str]:
    """The catalogue's most frequent DDC classes (three digits), once per model."""
    model = current_id()
    if model not in _frequent:
        counts: dict[str, int] = {}
        for (ddc,) in SuggestDoc.select(SuggestDoc.ddc).where(
                SuggestDoc.ddc.is_null(False)).tuples().iterator():
            if ddc[:3].isdigit():
                counts[ddc[:3]] = counts.get(ddc[:3], 0) + 1
        _frequent.clear()
        _frequent[model] = sorted(counts, key=lambda c: (-counts[c], c))[:classify.CLASSES]
    return _frequent[model]
