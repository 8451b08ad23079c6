"""Remote services on the web (core/requests): the patron asks from the OPAC (on a
phone too) and follows their requests in their account; the desk works through its
library's queue (the hub: the town's); the JSON API does both
(`/api/v1/requests`, documented in the OpenAPI document)."""

import io
import tempfile
from pathlib import Path

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _

from ..core import audit, patrons
from ..core.digital import uploads
from ..core.errors import N_, DomainError, Forbidden, Invalid, NotFound
from ..core.models import Bib, DigitalDocument, Item, Library, Loan, Patron
from ..core.requests import commands, copies, links, states
from .auth import STAFF, identity, requires
from .errors import json_error
from .i18n import select_locale

bp = Blueprint("requests", __name__)
PATRON = ("patron",)
MAX_FORM_PDF = commands.MAX_PDF + 1024 ** 2  # the form's own bytes besides the file


def say(err):
    """A refusal in the request's language, its words (a state, an action) too."""
    params = {k: _(v) if isinstance(v, str) and v in _WORDS else v
              for k, v in (err.params or {}).items()}
    return _(err.message, **params) if params else _(err.message)


_WORDS = {*states.STATE_WORDS.values(), *states.KIND_WORDS.values(),
          *states.ACTION_WORDS.values(), *states._WHY.values()}


@bp.app_template_global("request_words")
def request_words(req):
    """(kind, state) of a request in words."""
    return (_(states.KIND_WORDS.get(req.kind, req.kind)),
            _(states.STATE_WORDS.get(req.state, req.state)))


def _patron():
    return patrons.find(g.ctx, session.get("patron_card") or "")


def _actor():
    who = identity()
    return who["username"] if who else None


def _secret():
    return current_app.config["SECRET_KEY"]


def _link(req):
    if req.kind == "copy" and req.state in ("ready", "delivered") and req.expires_at:
        return url_for("requests.download", request_id=req.id, t=links.make(_secret(), req))
    return None


@bp.app_template_global("copy_held")
def copy_held(req):
    """Whether this site holds the PDF of a copy (one attached at another node comes
    with the next sync, sync/files.py)."""
    return req.kind == "copy" and copies.held(g.ctx.files, req)


@bp.app_template_global("copy_comes")
def copy_comes(req):
    """Whether a copy's PDF not held here comes with a sync (copies.comes_to)."""
    return copies.comes_to(g.ctx, req)


@bp.app_template_global("copy_on_its_way")
def copy_on_its_way(req):
    """A copy ready whose PDF has not reached this site yet."""
    return req.kind == "copy" and req.state in copies.SHOWN and not copy_held(req)


@bp.app_template_global("copy_late")
def copy_late(req):
    """At the hub: since when a ready copy's PDF has been awaited from the library that
    attached it, once it is late (copies.LATE_MS), so its staff are told; else None."""
    note = copies.late_note(g.ctx, req)
    return None if note is None else note["since"]


def _hub_requests_url():
    """The patron's requests on the town's site, where every copy is held (from a
    branch that knows the hub's address)."""
    if g.ctx.role == "hub":
        return None
    hub = ((g.ctx.settings.get("sync") or {}).get("hub_url") or "").rstrip("/")
    return hub + url_for("requests.mine") if hub else None


def _library_names():
    return {lib.code: lib.name or lib.code for lib in Library.select()}


# The patron's side (OPAC).

@bp.route("/opac/requests")
@requires(*PATRON)
def mine():
    patron = _patron()
    return render_template("requests/mine.html", patron=patron, reqs=commands.mine(patron),
                           link=_link, names=_library_names(), hub_url=_hub_requests_url())


def _ask_form():
    """What the new-request form is about: kind, record, document, pages asked."""
    args = request.values
    kind = args.get("kind") if args.get("kind") in states.KINDS else "copy"
    doc = DigitalDocument.get_or_none(DigitalDocument.id == args.get("document")) \
        if args.get("document") else None
    bib = Bib.get_or_none(Bib.id == (doc.bib if doc else args.get("bib")))
    return kind, bib, doc


@bp.route("/opac/requests/new", methods=["GET", "POST"])
@requires(*PATRON)
def ask():
    kind, bib, doc = _ask_form()
    if request.method == "POST":
        form = request.form
        try:
            req = commands.place(g.ctx, _patron(), kind, bib_id=bib.id if bib else None,
                                 document_id=doc.id if doc else None,
                                 pages=form.get("pages"), purpose=form.get("purpose"),
                                 address=form.get("address"),
                                 copyright_ok=form.get("copyright") == "1",
                                 library=form.get("library"), lang=select_locale())
        except DomainError as err:
            flash(say(err), "error")
            return render_template("requests/ask.html", kind=kind, bib=bib, doc=doc,
                                   form=form), err.status
        flash(_("Your request is sent. The library answers here, in your account."),
              "success")
        return redirect(url_for("requests.mine", _anchor=f"r-{req.id}"))
    return render_template("requests/ask.html", kind=kind, bib=bib, doc=doc,
                           form=request.args)


@bp.route("/opac/requests/<request_id>/cancel", methods=["POST"])
@requires(*PATRON)
def cancel(request_id):
    try:
        commands.cancel(g.ctx, _patron(), request_id)
        flash(_("The request is cancelled."), "success")
    except DomainError as err:
        flash(say(err), "error")
    return redirect(url_for("requests.mine"))


@bp.route("/opac/requests/<request_id>/download")
@requires(*PATRON)
def download(request_id):
    patron = _patron()
    try:
        req = commands.download(g.ctx, _secret(), request.args.get("t"), request_id, patron)
    except DomainError as err:
        status = 410 if err.code == "link_expired" else err.status
        return render_template("error.html", message=say(err), status=status), status
    if not copies.held(g.ctx.files, req):  # attached at another node: on its way here
        return render_template("requests/not_here.html", hub_url=_hub_requests_url()), 404
    commands.delivered(g.ctx, req)
    return _send_copy(req)


def _send_copy(req):
    return send_file(copies.path(g.ctx.files, req), mimetype="application/pdf",
                     as_attachment=True, download_name=f"ban-sao-{req.id[:8]}.pdf")


# The desk's side.

@bp.route("/desk/requests/")
@requires(*STAFF)
def queue():
    library = (request.args.get("library") or "").strip() or None
    everything = request.args.get("all") == "1"
    return render_template("requests/queue.html", reqs=commands.queue(
        g.ctx, library, everything), library=library, everything=everything,
        hub=g.ctx.role == "hub", names=_library_names())


@bp.route("/desk/requests/<request_id>")
@requires(*STAFF)
def show(request_id):
    req = commands.get(g.ctx, request_id)
    mine_here = g.ctx.role == "hub" or req.library == g.ctx.library
    patron = Patron.get_or_none(Patron.id == req.patron)
    audit.log(g.ctx, _actor(), "request.read", req.patron, req.id)  # name and address
    copies = list(Item.select().where((Item.bib == req.bib) & (Item.library == req.library))
                  ) if req.kind == "postal_loan" else []
    return render_template("requests/show.html", req=req, patron=patron, copies=copies,
                           actions=states.allowed(req.kind, req.state) if mine_here else [],
                           names=_library_names())


@bp.route("/desk/requests/<request_id>/copy.pdf")
@requires(*STAFF)
def staff_copy(request_id):
    """The PDF sent to the patron, for the staff who handle the request (the hub's for
    the town), to check what went."""
    req = commands.get(g.ctx, request_id)
    if req.kind != "copy" or not req.sha256:
        raise NotFound("no_copy_yet", N_("There is no copy to download for this request."))
    if not copies.held(g.ctx.files, req):
        if not copies.comes_to(g.ctx, req):
            raise NotFound("copy_elsewhere", N_(
                "The PDF of this copy was attached at the town hub for a patron of another "
                "library: it is kept on the town's site and at the patron's library, not "
                "here. Open it on the town's site."))
        raise NotFound("copy_not_here", N_(
            "The PDF of this copy is not on this site yet: it comes with the next sync."))
    audit.log(g.ctx, _actor(), "request.copy", req.patron, req.id)
    return _send_copy(req)


def _pdf_from_form():
    """The uploaded file, kept in a temporary file for checking."""
    upload = request.files.get("pdf")
    if upload is None or not upload.filename:
        raise Invalid("no_file", N_("Choose the PDF of the scanned pages."))
    tmp = tempfile.NamedTemporaryFile(delete=False, suffix=".pdf",
                                      dir=g.ctx.files.own())  # a practice copy's own
    with tmp:
        upload.save(tmp)
    return Path(tmp.name)


def _act(request_id, action, data, pdf_path=None):
    ctx, actor = g.ctx, _actor()
    if action == "accept":
        return commands.accept(ctx, request_id, actor=actor)
    if action == "refuse":
        return commands.refuse(ctx, request_id, data.get("reason"), actor=actor)
    if action == "lend":
        return commands.lend(ctx, request_id, data.get("barcode"), actor=actor)
    if action == "expire":
        return commands.expire(ctx, request_id, actor=actor)
    if action == "attach":
        return commands.attach(ctx, request_id, pdf_path, actor=actor)
    if action == "return":
        return commands.close_returned(ctx, request_id, actor=actor)
    raise Invalid("unknown_action", N_("There is no step %(action)s for a request."),
                  action=action)


@bp.route("/desk/requests/<request_id>/<action>", methods=["POST"])
@requires(*STAFF)
def act(request_id, action):
    path = None
    try:
        if request.content_length and request.content_length > MAX_FORM_PDF:
            raise Invalid("pdf_too_big", N_("The PDF is %(size)s MB: at most %(limit)s MB."),
                          size=round(request.content_length / 1024 ** 2, 1),
                          limit=commands.MAX_PDF // 1024 ** 2)
        if action == "attach":
            path = _pdf_from_form()
        req = _act(request_id, action, request.form, path)
        flash(_("Done: the request is now %(state)s.", state=request_words(req)[1]),
              "success")
    except DomainError as err:
        flash(say(err), "error")
    finally:
        if path is not None:
            path.unlink(missing_ok=True)
    return redirect(url_for("requests.show", request_id=request_id))


def _pdf(write, name):
    out = io.BytesIO()
    write(out)
    out.seek(0)
    return send_file(out, mimetype="application/pdf", download_name=name)


@bp.route("/desk/requests/<request_id>/label.pdf")
@requires(*STAFF)
def label(request_id):
    from ..core.requests import labels

    req = _postal(request_id)
    audit.log(g.ctx, _actor(), "request.label", req.patron, req.id)
    return _pdf(lambda out: labels.a6_label(req, out, _), f"nhan-{req.id[:8]}.pdf")


@bp.route("/desk/requests/<request_id>/slip.pdf")
@requires(*STAFF)
def slip(request_id):
    from ..core.requests import labels

    req = _postal(request_id)
    audit.log(g.ctx, _actor(), "request.slip", req.patron, req.id)
    barcode = None
    if req.loan_id:
        loan = Loan.get_or_none(Loan.id == req.loan_id)
        barcode = loan.item.barcode if loan else None
    return _pdf(lambda out: labels.slip(req, barcode, out, _), f"phieu-{req.id[:8]}.pdf")


@bp.route("/desk/requests/labels.pdf")
@requires(*STAFF)
def label_sheet():
    """Address labels of every parcel to post: the accepted and lent postal loans."""
    from ..core.requests import labels

    reqs = [r for r in commands.queue(g.ctx, request.args.get("library") or None)
            if r.kind == "postal_loan" and r.state in ("accepted", "lent")]
    audit.seen(g.ctx, _actor(), "requests.labels", [r.patron for r in reqs])
    return _pdf(lambda out: labels.label_sheet(reqs, out, _), "nhan-buu-dien.pdf")


def _postal(request_id):
    req = commands.get(g.ctx, request_id)
    if req.kind != "postal_loan":
        raise Invalid("not_postal", N_("Only a loan by post has an address label."))
    if g.ctx.role != "hub" and req.library != g.ctx.library:
        raise Forbidden("other_library_request", N_(
            "This request is library %(library)s's: only its staff handle it."),
            library=req.library)
    return req


# The JSON API.

def _json(req, patron_view=False):
    out = {"id": req.id, "kind": req.kind, "state": req.state, "library": req.library,
           "bib_id": req.bib, "document_id": req.document, "title": req.title,
           "pages": req.pages, "purpose": req.purpose, "placed_at": req.placed_at,
           "updated_at": req.updated_at, "reason": req.reason, "expires_at": req.expires_at,
           "loan_id": req.loan_id, "due_date": req.due_date}
    if patron_view:
        out["download"] = _link(req)
    else:  # what the hub's queue marks: a copy whose PDF its library has not sent
        out.update(copies.late_fields(g.ctx, req))
    if req.kind == "copy":
        out["copy_here"] = copy_held(req)
    if req.kind == "postal_loan":
        out["address"] = req.address
    return out


def _api(fn):
    """An API view whose refusals are JSON in the caller's language."""
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DomainError as err:
            return json_error(err.code, say(err), err.status)
    run.__name__ = fn.__name__
    return run


def _role():
    who = identity()
    return who["role"] if who else None


@bp.route("/api/v1/requests", methods=["GET"])
@requires(*PATRON, *STAFF)
@_api
def api_list():
    if _role() == "patron":
        return jsonify({"requests": [_json(r, True) for r in commands.mine(_patron())]})
    return jsonify({"requests": [_json(r) for r in commands.queue(
        g.ctx, request.args.get("library") or None, request.args.get("all") == "1")]})


@bp.route("/api/v1/requests", methods=["POST"])
@requires(*PATRON)
@_api
def api_place():
    from .api.routes import body

    data = body("/requests")
    req = commands.place(g.ctx, _patron(), data.get("kind"), bib_id=data.get("bib_id"),
                         document_id=data.get("document_id"), pages=data.get("pages"),
                         purpose=data.get("purpose"), address=data.get("address"),
                         copyright_ok=data.get("copyright_accepted") is True,
                         library=data.get("library"), lang=select_locale())
    return jsonify(_json(req, True)), 201


@bp.route("/api/v1/requests/<request_id>/cancel", methods=["POST"])
@requires(*PATRON)
@_api
def api_cancel(request_id):
    """The patron's one move: withdraw their request."""
    return jsonify(_json(commands.cancel(g.ctx, _patron(), request_id), True))


@bp.route("/api/v1/requests/<request_id>/<action>", methods=["POST"])
@requires(*STAFF)
@_api
def api_act(request_id, action):
    data = request.get_json(silent=True) or {}
    if not isinstance(data, dict):
        raise Invalid("bad_json", N_("The request body must be a JSON object."))
    if action == "attach":  # a finished resumable upload (/api/v1/digital/uploads)
        upload_id = str(data.get("upload_id") or "")
        (path,) = uploads.finished_files(g.ctx, [upload_id], _actor())
        req = _act(request_id, action, data, Path(path))
        uploads.forget(g.ctx, [upload_id])
        return jsonify(_json(req))
    return jsonify(_json(_act(request_id, action, data)))
