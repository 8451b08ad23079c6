"""How the digital library's events become rows (called by projector.apply).

- `digital.saved`: a document with its pages, whole; the latest save stands (by clock,
  ties by content, as every keyed row of settings), so any order gives the same rows.
- `digital.text`: one page's OCR text, kept apart from the page (either may come first).
- `digital.used`: a view or download, counted once by its id."""

from ..models import Bib, DigitalDocument, DigitalPage, DigitalText, DigitalUse, database_proxy
from . import textindex


def _wins(hlc, text, held_hlc, held_text):
    return (hlc, text) > (held_hlc, held_text)


def document_saved(ev, body, latest):
    doc_id = body["id"]
    if not latest("digital:" + doc_id, ev, body):
        return
    DigitalDocument.delete().where(DigitalDocument.id == doc_id).execute()
    DigitalPage.delete().where(DigitalPage.document == doc_id).execute()
    pages = body.get("pages") or []
    DigitalDocument.insert(
        id=doc_id, bib=body["bib_id"], library=body["library"], title=body.get("title") or "",
        access=body["access"], collection=body.get("collection"), page_count=len(pages),
        downloadable=bool(body.get("downloadable", True)), created_at=body.get("at") or ev.wall,
        hlc=ev.hlc, deleted=bool(body.get("deleted"))).execute()
    if pages and not body.get("deleted"):
        DigitalPage.insert_many([{
            "id": page_id(doc_id, p["n"]), "document": doc_id, "n": p["n"],
            "sha256": p["sha256"], "ext": p["ext"], "frame": p.get("frame", 0),
            "size": p.get("size", 0), "width": p.get("width", 0), "height": p.get("height", 0)}
            for p in pages]).execute()
    if body.get("access") != "restricted":  # harvesters see the record's new link
        Bib.update(updated_hlc=ev.hlc).where((Bib.id == body["bib_id"])
                                             & (Bib.updated_hlc < ev.hlc)).execute()
    if body.get("deleted"):
        DigitalText.delete().where(DigitalText.document == doc_id).execute()
        textindex.forget_document(doc_id)


def page_id(document_id, n):
    return f"{document_id}-{int(n):04d}"


def text_found(ev, body):
    page, text = body["page"], body.get("text") or ""
    held = DigitalText.get_or_none(DigitalText.page == page)
    if held is not None and not _wins(ev.hlc, text, held.hlc, held.text):
        return
    if held is None:
        DigitalText.insert(page=page, document=body["document_id"], text=text,
                           hlc=ev.hlc).execute()
    else:
        DigitalText.update(text=text, hlc=ev.hlc).where(DigitalText.page == page).execute()
    textindex.keep(database_proxy.obj, page, body["document_id"], text)


def used(ev, body):
    DigitalUse.insert(id=body["use_id"], library=body["library"], day=body["day"],
                      document=body["document_id"], action=body["action"]
                      ).on_conflict_ignore().execute()
