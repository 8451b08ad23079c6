"""Digital documents attached to catalogue records: the commands and what they read.

A document's metadata (record, library, access level, pages with their checksums) is
an event, `digital.saved`, that syncs like any record; its masters are files that stay
in the data folder of the node that took them (store.py). A restricted document's
events go in the device's local chain (events.LOCAL_SUFFIX), which no sync ships: not
a byte of it leaves its library."""

from datetime import datetime, timezone

from .. import events
from ..clock import LIBRARY_TZ
from ..errors import N_, Invalid, NotFound
from ..ids import new_id
from ..models import Bib, DigitalDocument, DigitalPage, DigitalText, DigitalUse
from . import jobs, pages, store
from .access import LEVELS
from .project import page_id

MAX_PAGES = 5000
COLLECTION_MAX = 64


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_access(access):
    if access not in LEVELS:
        raise Invalid("bad_access", N_("Access must be one of: %(levels)s."),
                      levels=", ".join(LEVELS))
    return access


def _bib(bib_id):
    bib = Bib.get_or_none(Bib.id == bib_id)
    if bib is None or bib.deleted:
        raise NotFound("no_bib", N_("No record %(id)s."), id=bib_id)
    return bib


def _collection(value):
    value = (value or "").strip() or None
    if value and (len(value) > COLLECTION_MAX or not value.replace("-", "").replace(
            "_", "").isalnum() or not value.isascii()):
        raise Invalid("bad_collection", N_("A collection name is up to 64 letters, digits, "
                                           "dashes or underscores."))
    return value


def read_files(files, progress=None):
    """The pages of scans in page order, each file checked before anything is kept:
    [(path, Page)]."""
    found: list[tuple] = []
    for i, path in enumerate(files, 1):
        found.extend((path, page) for page in pages.read(path))
        if progress:
            progress("read", i, len(files))
    if not found:
        raise Invalid("no_pages", N_("The files hold no pages."))
    if len(found) > MAX_PAGES:
        raise Invalid("too_many_pages", N_("A document may have at most %(max)s pages."),
                      max=MAX_PAGES)
    return found


def keep_masters(files, found, progress=None):
    """Store each file once under its checksum; the page list of a `digital.saved`."""
    kept: dict = {}
    out = []
    for n, (path, page) in enumerate(found, 1):
        if path not in kept:
            kept[path] = store.put(files, path, page.ext)[:2]
        sha, size = kept[path]
        out.append({"n": n, "sha256": sha, "ext": page.ext, "frame": page.frame,
                    "size": size, "width": page.width, "height": page.height})
        if progress:
            progress("store", n, len(found))
    return out


def attach(ctx, bib_id, target_files, access="public", collection=None, title=None,
           downloadable=True, progress=None):
    """A new document for a record from scan or PDF files (in page order); its pages
    are queued for derivatives and OCR. Returns the document id."""
    check_access(access)
    collection = _collection(collection)
    bib = _bib(bib_id)
    found = read_files(target_files, progress)
    page_list = keep_masters(ctx.files, found, progress)
    doc_id = new_id()
    body = {"id": doc_id, "bib_id": bib.id, "library": ctx.library,
            "title": (title or bib.title or "").strip()[:500], "access": access,
            "collection": collection, "downloadable": bool(downloadable),
            "pages": page_list, "at": _now()}
    with events.writing(ctx):
        events.record(ctx, "digital.saved", body, local=access == "restricted")
        jobs.enqueue([page_id(doc_id, p["n"]) for p in page_list])
    return doc_id


def _body_of(doc):
    page_list = [{"n": p.n, "sha256": p.sha256, "ext": p.ext, "frame": p.frame,
                  "size": p.size, "width": p.width, "height": p.height}
                 for p in DigitalPage.select().where(DigitalPage.document == doc.id)
                 .order_by(DigitalPage.n)]
    return {"id": doc.id, "bib_id": doc.bib, "library": doc.library, "title": doc.title,
            "access": doc.access, "collection": doc.collection,
            "downloadable": doc.downloadable, "pages": page_list, "at": doc.created_at}


def update(ctx, doc_id, access=None, collection=None, downloadable=None, deleted=False):
    """Change a document's access level, collection or download permission, or delete
    it. A restricted document stays restricted and no other becomes so: what was
    restricted never left its library, and what was not has been shared already."""
    doc = get(doc_id)
    body = _body_of(doc)
    if access is not None:
        check_access(access)
        if (access == "restricted") != (doc.access == "restricted"):
            raise Invalid("restricted_fixed", N_(
                "A document is made restricted when it is imported, and a restricted one "
                "stays so: import it again with the level it should have."))
        body["access"] = access
    if collection is not None:
        body["collection"] = _collection(collection)
    if downloadable is not None:
        body["downloadable"] = bool(downloadable)
    if deleted:
        body["deleted"], body["pages"] = True, []
    if doc.library != ctx.library:
        raise Invalid("other_library", N_("This document belongs to library %(library)s."),
                      library=doc.library)
    events.record(ctx, "digital.saved", body, local=doc.access == "restricted")


def get(doc_id):
    doc = DigitalDocument.get_or_none((DigitalDocument.id == doc_id)
                                      & ~DigitalDocument.deleted)
    if doc is None:
        raise NotFound("no_document", N_("No digital document %(id)s."), id=doc_id)
    return doc


def page(page_key):
    row = DigitalPage.get_or_none(DigitalPage.id == page_key)
    if row is None:
        raise NotFound("no_page", N_("No page %(id)s."), id=page_key)
    return row


def page_list(doc_id):
    return list(DigitalPage.select().where(DigitalPage.document == doc_id)
                .order_by(DigitalPage.n))


def of_bib(bib_id):
    return list(DigitalDocument.select().where((DigitalDocument.bib == bib_id)
                                               & ~DigitalDocument.deleted)
                .order_by(DigitalDocument.created_at))


def texts(doc_id):
    """{page id: OCR text} of a document."""
    return {t.page: t.text for t in DigitalText.select().where(DigitalText.document == doc_id)}


def has_master(ctx, row):
    return store.master_path(ctx.files, row.sha256, row.ext).exists()


def held_masters():
    """(sha256, ext) of every page of every document held: what `verify` checks."""
    return [(p.sha256, p.ext) for p in DigitalPage.select(DigitalPage.sha256, DigitalPage.ext)
            .join(DigitalDocument, on=(DigitalPage.document == DigitalDocument.id))]


def verify(ctx):
    """Faults of the masters this node took: the documents of its library (others'
    masters stay where they were taken)."""
    if ctx.files is None:
        return []
    rows = (DigitalPage.select(DigitalPage.sha256, DigitalPage.ext)
            .join(DigitalDocument, on=(DigitalPage.document == DigitalDocument.id))
            .where(DigitalDocument.library == ctx.library).tuples())
    return store.verify(ctx.files, list(rows))


def count_use(ctx, doc, action):
    """A view or download, for the reports: in the document's own chain (a restricted
    document's use stays with it too)."""
    day = datetime.now(LIBRARY_TZ).date().isoformat()
    events.record(ctx, "digital.used", {"use_id": new_id(), "library": ctx.library,
                                        "day": day, "document_id": doc.id, "action": action},
                  local=doc.access == "restricted")


def uses(library=None, since=None, until=None, action="view"):
    q = DigitalUse.select().where(DigitalUse.action == action)
    if library:
        q = q.where(DigitalUse.library == library)
    if since:
        q = q.where(DigitalUse.day >= since)
    if until:
        q = q.where(DigitalUse.day < until)
    return q.count()
