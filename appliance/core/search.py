"""Catalogue search. A first, plain version: folded LIKE matching over title and
authors. The catalogue work replaces it with an FTS5 index kept by `on_bib_changed`."""

from .models import Bib, Item


def on_bib_changed(db, bib_id):
    """Called by the projector after a record or one of its copies changed."""


def availability(bib_id, library=None):
    q = Item.select().where(Item.bib == bib_id)
    if library:
        q = q.where(Item.library == library)
    items = list(q)
    return {"total": len(items), "available": sum(i.status == "available" for i in items)}


def search(q, page=1, per_page=20, library=None):
    query = Bib.select().where(~Bib.deleted)
    for word in (q or "").split():
        query = query.where(Bib.title.contains(word) | Bib.authors.contains(word))
    total = query.count()
    rows = query.order_by(Bib.title).paginate(page, per_page)
    return {"total": total, "page": page, "results": [
        {"bib_id": b.id, "title": b.title, "authors": b.authors, "year": b.year,
         "availability": availability(b.id, library)} for b in rows]}
