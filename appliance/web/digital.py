"""The digital library on the web: IIIF Image and Presentation 3, the search inside OCR
text, the OPAC's viewer and downloads. Every route asks the one access rule
(core/digital/access.py) for the document it serves; what may not be seen is answered
as not found where saying more would tell that it exists."""

import io

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    send_file,
    url_for,
)

from ..core import audit
from ..core.digital import (
    access,
    derive,
    documents,
    iiif,
    progress,
    store,
    textindex,
    uploads,
)
from ..core.errors import N_, Invalid
from ..core.models import Bib, User
from .auth import STAFF, client_address, identity, public, requires

bp = Blueprint("digital", __name__)
PER_PAGE = 20  # hits per answer (`page=` for more)
SEARCH_CAP = 200  # a thousand books holding a common word: the first 200 pages, and `more`


def viewer():
    """Who is asking, as the access rule sees them."""
    who = identity()
    role = who["role"] if who else None
    library = None
    if role in access.STAFF_ROLES:
        user = User.get_or_none(User.username == who["username"])
        library = user.library if user else None
    networks = (g.ctx.settings.get("digital") or {}).get("onsite_networks")
    return access.Viewer(role, library, access.is_onsite(client_address(), networks))


def _visible(doc):
    """The document if the caller may see it, else 404 (or 403 to someone who could
    learn its existence anyway: nobody)."""
    v = viewer()
    if not access.may_view(doc.access, doc.library, v):
        abort(404 if doc.access in ("staff", "restricted") else 403)
    return v


def _document(doc_id):
    doc = documents.get(doc_id)
    return doc, _visible(doc)


def _page(page_id):
    row = documents.page(page_id)
    doc = documents.get(row.document)
    _visible(doc)
    return row, doc


def _cache(response, doc, seconds=86400):
    """Public documents may be kept by any cache; others only by the browser."""
    response.headers["Cache-Control"] = (f"public, max-age={seconds}" if doc.access == "public"
                                         else f"private, max-age={seconds}")
    if doc.access == "public":  # any IIIF viewer, from any site
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _counted(doc, action):
    documents.count_use(g.ctx, doc, action)
    if access.logged(doc.access):
        who = identity()
        audit.log_local(who["username"] if who else None, f"digital.{action}", doc.id,
                  f"{doc.access}: {doc.title}"[:500])


@bp.app_template_global("digital_copies")
def digital_copies(bib_id):
    """The record's documents the caller may see, each with whether its pages are held
    here (else the hub's viewer is the place), for the OPAC's record page."""
    v = viewer()
    hub = ((g.ctx.settings.get("sync") or {}).get("hub_url") or "").rstrip("/")
    out = []
    for doc in documents.of_bib(bib_id):
        if not access.may_view(doc.access, doc.library, v):
            continue
        first = documents.page_list(doc.id)[:1]
        here = bool(first) and documents.has_master(g.ctx, first[0])
        out.append({"doc": doc, "here": here, "cover": _thumb_url(first),
                    "elsewhere": None if here or not hub else
                    hub + url_for("digital.view", doc_id=doc.id)})
    return out


def _thumb_url(page_rows):
    """The first page's thumbnail, where one is held here."""
    if page_rows and store.derived(g.ctx.files, page_rows[0].id, "thumb.jpg").is_file():
        return url_for("digital.thumbnail", page_id=page_rows[0].id)
    return None


def _base():
    return request.host_url.rstrip("/") + "/iiif"


# IIIF Image API 3.

@bp.route("/iiif/image/<page_id>")
@public
def image_base(page_id):
    return info_json(page_id)


@bp.route("/iiif/image/<page_id>/info.json")
@public
def info_json(page_id):
    row, doc = _page(page_id)
    if not documents.has_master(g.ctx, row):
        abort(404)
    body = iiif.info(f"{_base()}/image/{row.id}", row)
    response = jsonify(body)
    response.mimetype = "application/ld+json"
    response.headers["Content-Type"] = (
        'application/ld+json;profile="http://iiif.io/api/image/3/context.json"')
    return _cache(response, doc)


@bp.route("/iiif/image/<page_id>/<region>/<size>/<rotation>/<quality>.<fmt>")
@public
def image(page_id, region, size, rotation, quality, fmt):
    row, doc = _page(page_id)
    if not documents.has_master(g.ctx, row):
        abort(404)
    width, height = derive.full_size(row.width, row.height)
    parsed = iiif.parse(region, size, rotation, quality, fmt, width, height)
    path = iiif.render(g.ctx.files, row, parsed)
    response = send_file(path, mimetype=iiif.FORMATS[fmt][1], conditional=True,
                         etag=path.stem, max_age=86400)
    return _cache(response, doc)


# IIIF Presentation 3.

@bp.route("/iiif/3/<doc_id>/manifest.json")
@public
def manifest(doc_id):
    doc, _v = _document(doc_id)
    bib = Bib.get_or_none(Bib.id == doc.bib)
    body = iiif.manifest(doc, documents.page_list(doc.id), _base(), bib)
    _counted(doc, "view")
    response = jsonify(body)
    response.headers["Content-Type"] = (
        'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"')
    return _cache(response, doc, 300)


# Search inside the OCR text.

@bp.route("/api/v1/digital/search")
@public
def search():
    words = textindex.query_words(request.args.get("q"))
    only = request.args.get("document") or None
    v = viewer()
    found = textindex.matching_pages(g.ctx.db, words, only, limit=SEARCH_CAP)
    docs = {d.id: d for d in documents.DigitalDocument.select().where(
        documents.DigitalDocument.id.in_(sorted({doc for _, doc in found})))}
    visible = [page for page, doc in found if doc in docs and not docs[doc].deleted
               and access.may_view(docs[doc].access, docs[doc].library, v)]
    page_no = max(1, request.args.get("page", 1, type=int))
    shown = visible[(page_no - 1) * PER_PAGE:page_no * PER_PAGE]
    rows = {p.id: p for p in documents.DigitalPage.select().where(
        documents.DigitalPage.id.in_(shown))}
    texts = dict(documents.DigitalText.select(documents.DigitalText.page,
                                              documents.DigitalText.text).where(
        documents.DigitalText.page.in_(shown)).tuples())
    q, base, hits = request.args.get("q"), _base(), []
    for page_id in shown:
        row, text = rows.get(page_id), texts.get(page_id)
        if row is None or text is None:
            continue
        doc = docs[row.document]
        snippet, marked = textindex.snippet(text, words)
        hits.append({"document": doc.id, "title": doc.title, "bib_id": doc.bib,
                     "page": row.n, "page_id": row.id, "snippet": snippet,
                     "highlights": marked, "boxes": _boxes(row.id, words),
                     "manifest": f"{base}/3/{doc.id}/manifest.json",
                     "viewer": url_for("digital.view", doc_id=doc.id, page=row.n, q=q,
                                       _external=True)})
    # `total` counts at most SEARCH_CAP pages: `more` says when there are others
    return jsonify({"total": len(visible), "more": len(found) >= SEARCH_CAP,
                    "page": page_no, "hits": hits})


def _boxes(page_id, words):
    """Where the sought words are on the page, in the full image's pixels."""
    held = derive.load_words(g.ctx.files, page_id)
    if not held:
        return []
    wanted = set(words)
    return [w[1:] for w in held["words"]
            if any(part in wanted for part in textindex.folded_words(w[0]))]


# The OPAC's viewer and downloads.

@bp.route("/opac/digital/page/<page_id>/thumb.jpg")
@public
def thumbnail(page_id):
    """A page's thumbnail: made here from the master, or brought by sync from the hub
    for another library's document (sync.files), whose pages are seen at the hub."""
    row, doc = _page(page_id)
    path = store.derived(g.ctx.files, row.id, "thumb.jpg")
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", conditional=True, max_age=86400)
    return _cache(response, doc)


@bp.route("/opac/digital/<doc_id>")
@public
def view(doc_id):
    doc, v = _document(doc_id)
    page_rows = documents.page_list(doc.id)
    here = bool(page_rows) and documents.has_master(g.ctx, page_rows[0])
    if here:
        _counted(doc, "view")
    hub = ((g.ctx.settings.get("sync") or {}).get("hub_url") or "").rstrip("/")
    pages_json = [{"n": p.n, "id": p.id, "width": derive.full_size(p.width, p.height)[0],
                   "height": derive.full_size(p.width, p.height)[1]} for p in page_rows]
    # another library's document seen from here: its thumbnails, brought by sync
    thumbs = [] if here else [
        {"n": p.n, "url": url_for("digital.thumbnail", page_id=p.id)} for p in page_rows
        if store.derived(g.ctx.files, p.id, "thumb.jpg").is_file()]
    return render_template(
        "opac/digital.html", doc=doc, bib=Bib.get_or_none(Bib.id == doc.bib),
        pages=pages_json, here=here, hub_url=hub, thumbs=thumbs,
        may_download=access.may_download(doc.access, doc.library, doc.downloadable, v),
        start=request.args.get("page", 1, type=int), q=request.args.get("q", ""))


@bp.route("/opac/digital/<doc_id>/download")
@public
def download(doc_id):
    doc, v = _document(doc_id)
    if not access.may_download(doc.access, doc.library, doc.downloadable, v):
        abort(403)
    page_rows = documents.page_list(doc.id)
    if not page_rows or not documents.has_master(g.ctx, page_rows[0]):
        abort(404)
    masters = {(p.sha256, p.ext) for p in page_rows}
    if len(masters) == 1 and page_rows[0].ext == "pdf":  # the PDF as it was given
        body = store.master_path(g.ctx.files, page_rows[0].sha256, "pdf")
    else:
        body = io.BytesIO(_pdf_of(page_rows))
    _counted(doc, "download")
    return send_file(body, mimetype="application/pdf", as_attachment=True,
                     download_name=f"{doc.id}.pdf")


def _pdf_of(page_rows):
    """The pages' web images as one PDF."""
    from PIL import Image

    images = []
    for row in page_rows:
        path = store.derived(g.ctx.files, row.id, "web.jpg")
        if not path.exists():  # made by the worker, never in a request
            raise derive.not_ready()
        images.append(Image.open(path).convert("RGB"))
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=100)
    return out.getvalue()


# Uploads from the desk: several files in page order, each in chunks that resume.

@bp.route("/desk/digital/<bib_id>")
@requires(*STAFF)
def desk_page(bib_id):
    bib = Bib.get_or_none((Bib.id == bib_id) & ~Bib.deleted)
    if bib is None:
        abort(404)
    return render_template("digital/upload.html", bib=bib, docs=documents.of_bib(bib.id),
                           levels=access.LEVELS, chunk=CHUNK)


CHUNK = 1024 * 1024  # what the desk's script sends at a time


def _json():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("bad_json", N_("The request was not understood."))
    return body


@bp.route("/api/v1/digital/uploads", methods=["POST"])
@requires(*STAFF)
def upload_start():
    body = _json()
    upload_id = uploads.start(g.ctx, identity()["username"], body.get("filename"),
                              body.get("size"))
    return jsonify({"id": upload_id, "received": 0}), 201


@bp.route("/api/v1/digital/uploads/<upload_id>", methods=["GET"])
@requires(*STAFF)
def upload_status(upload_id):
    row = uploads.get(upload_id, identity()["username"])
    return jsonify({"id": row.id, "received": row.received, "size": row.size})


@bp.route("/api/v1/digital/uploads/<upload_id>", methods=["PUT"])
@requires(*STAFF)
def upload_chunk(upload_id):
    offset = request.args.get("offset", type=int)
    if offset is None or offset < 0:
        raise Invalid("bad_offset", N_("The request was not understood."))
    received = uploads.append(g.ctx, upload_id, identity()["username"], offset,
                              request.get_data(cache=False))
    return jsonify({"id": upload_id, "received": received})


@bp.route("/api/v1/digital/documents", methods=["POST"])
@requires(*STAFF)
def upload_finish():
    body = _json()
    bib_id = body.get("bib_id")
    ids = body.get("uploads")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise Invalid("no_uploads", N_("The request was not understood."))
    files = uploads.finished_files(g.ctx, ids, identity()["username"])
    doc_id = documents.attach(g.ctx, bib_id, files, access=body.get("access") or "public",
                              collection=body.get("collection"),
                              downloadable=bool(body.get("downloadable", True)))
    uploads.forget(g.ctx, ids)
    _wake_worker()
    return jsonify({"document": doc_id, "pages": documents.get(doc_id).page_count,
                    "viewer": url_for("digital.view", doc_id=doc_id)}), 201


def _wake_worker():
    """Start the new pages' images and OCR now rather than at the worker's next look
    (`thuvien serve` keeps it in the app; a practice upload's queue is the copy's, and
    the same worker works it after the real one)."""
    worker = current_app.extensions.get("digital_worker")
    if worker is not None:
        worker.wake()


# Digitisation progress: the plan's indicator per library and for the town, and the work
# list of marked records still without a digital copy.

PROGRESS_ROLES = (*STAFF, "report_viewer")


def _progress():
    order = "requested" if request.args.get("order") == "requested" else "oldest"
    library = request.args.get("library") or None
    marked, digitised = progress.town_counts()
    return {"town": {"marked": marked, "digitised": digitised,
                     "percent": round(100.0 * digitised / marked, 1)
                     if marked and digitised is not None else None, "target": 70},
            "libraries": progress.by_library(), "order": order, "library": library,
            "work_list": progress.work_list(order, library)}


@bp.route("/hub/digital/progress")
@requires(*PROGRESS_ROLES)
def progress_page():
    return render_template("digital/progress.html", **_progress())


@bp.route("/api/v1/digital/progress")
@requires(*PROGRESS_ROLES)
def progress_api():
    return jsonify(_progress())
