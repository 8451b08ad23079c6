"""The desk's cataloguing workspace: create and edit records, copy-catalogue from an
ISBN, add copies with generated barcodes, print label sheets, upload covers."""

import io

from flask import Blueprint, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from .. import covers, labels
from ..core import barcodes, catalogue, events, merge
from ..core.catalogue import ITEM_TYPES, normalise_isbn
from ..core.errors import N_, DomainError, Invalid
from ..core.inputs import whole_number
from ..core.models import Bib, Item
from . import i18n
from .auth import STAFF, requires

bp = Blueprint("cataloguing", __name__, url_prefix="/desk/catalogue")

FIELDS = ("title", "authors", "publisher", "year", "isbn", "language", "ddc", "subjects",
          "series", "notes")
MAX_COPIES = 50
SYMBOLOGIES = ("code128", "codabar")


def _form_values(bib):
    """A record as the form shows it: lists joined with ;."""
    values = {k: getattr(bib, k) for k in FIELDS}
    for name in ("authors", "subjects"):
        values[name] = "; ".join(values[name] or [])
    return {k: "" if v is None else v for k, v in values.items()}


def _posted():
    return {k: (request.form.get(k) or "").strip() for k in FIELDS}


def _save(data, bib_id=None):
    """Save through the core; on a refusal, the form again with the message (400). A
    record that looks like one already held is not saved until staff say so (409)."""
    if bib_id:
        data = dict(data, id=bib_id)
    try:
        if not request.form.get("save_anyway"):
            duplicates = merge.likely_duplicates(data, exclude=bib_id, editing=bool(bib_id))
            if duplicates:
                return render_template("cataloguing/form.html", values=data, bib_id=bib_id,
                                       duplicates=duplicates), 409
        bib = catalogue.save_bib(g.ctx, data)
    except DomainError as e:
        flash(i18n.translate(e), "error")
        return render_template("cataloguing/form.html", values=data, bib_id=bib_id), 400
    flash(_("Record saved."), "success")
    return redirect(url_for("cataloguing.record", bib_id=bib.id))


@bp.route("/")
@requires(*STAFF)
def index():
    return render_template("cataloguing/index.html", isbn="")


@bp.route("/new", methods=["GET", "POST"])
@requires(*STAFF)
def new():
    if request.method == "POST":
        return _save(_posted())
    values = {"language": "vie"}
    source = request.args.get("from")
    if source:  # copy-catalogue: a new record starting from a held one (another edition)
        values = _form_values(catalogue.get_bib(g.ctx, source))
        values["isbn"] = ""
    if request.args.get("isbn"):
        values["isbn"] = request.args["isbn"].strip()
    return render_template("cataloguing/form.html", values=values, bib_id=None)


@bp.route("/<bib_id>/edit", methods=["GET", "POST"])
@requires(*STAFF)
def edit(bib_id):
    bib = catalogue.get_bib(g.ctx, bib_id)
    if request.method == "POST":
        return _save(_posted(), bib.id)
    return render_template("cataloguing/form.html", values=_form_values(bib), bib_id=bib.id)


@bp.route("/copy", methods=["POST"])
@requires(*STAFF)
def copy_from_isbn():
    """Scan or type an ISBN: a held record opens (add your copies to it), otherwise a
    new record starts with that ISBN."""
    text = (request.form.get("isbn") or "").strip()
    try:
        isbn = normalise_isbn(text)
        if not isbn:
            raise Invalid("isbn_required", N_("Type or scan an ISBN."))
    except DomainError as e:
        flash(i18n.translate(e), "error")
        return render_template("cataloguing/index.html", isbn=text), 400
    held = (Bib.select().where((Bib.isbn == isbn) & ~Bib.deleted & (Bib.title != ""))
            .order_by(Bib.created_at).first())
    if held is None:
        flash(_("ISBN %(isbn)s is not in the catalogue yet: a new record.", isbn=isbn), "info")
        return redirect(url_for("cataloguing.new", isbn=isbn))
    flash(_("This ISBN is already catalogued: add your copies to the record."), "info")
    return redirect(url_for("cataloguing.record", bib_id=held.id))


@bp.route("/<bib_id>")
@requires(*STAFF)
def record(bib_id):
    bib = catalogue.get_bib(g.ctx, bib_id)
    items = list(Item.select().where(Item.bib == bib.id).order_by(Item.library, Item.barcode))
    return render_template("cataloguing/record.html", bib=bib, items=items,
                           item_types=ITEM_TYPES, max_copies=MAX_COPIES,
                           has_cover=_has_cover(bib.id), can_cover=g.ctx.files is not None,
                           duplicates=_duplicates_of(bib))


def _duplicates_of(bib):
    return merge.likely_duplicates({"title": bib.title, "authors": bib.authors or [],
                                    "isbn": bib.isbn}, exclude=bib.id)


@bp.route("/<bib_id>/merge", methods=["POST"])
@requires(*STAFF)
def merge_into(bib_id):
    """Merge another record (`other`) into this one: its copies and holds come here."""
    kept = catalogue.get_bib(g.ctx, bib_id)
    other = (request.form.get("other") or "").strip()
    try:
        merge.merge(g.ctx, kept.id, other)
    except DomainError as e:
        flash(i18n.translate(e), "error")
        return redirect(url_for("cataloguing.record", bib_id=kept.id))
    flash(_("The two records are one now: copies and holds moved here."), "success")
    return redirect(url_for("cataloguing.record", bib_id=kept.id))


def _has_cover(bib_id):
    return g.ctx.files is not None and covers.has_cover(g.ctx.files, bib_id)


def _count(text):
    try:
        return whole_number(text, "count", 1, MAX_COPIES)
    except Invalid:  # "²" or 25 digits included: said in the form's own words
        raise Invalid("bad_copies", N_("Add between 1 and %(max)s copies at a time."),
                      max=MAX_COPIES)


@bp.route("/<bib_id>/copies", methods=["POST"])
@requires(*STAFF)
def add_copies(bib_id):
    """N copies with generated 14-digit barcodes, all or none; then their labels."""
    bib = catalogue.get_bib(g.ctx, bib_id)
    made = []
    try:
        count = _count((request.form.get("count") or "1").strip())
        with events.writing(g.ctx):  # one transaction: a refusal leaves no copy behind
            for _n in range(count):
                made.append(catalogue.save_item(g.ctx, {
                    "bib": bib.id, "barcode": barcodes.next_barcode(g.ctx),
                    "item_type": request.form.get("item_type") or "book",
                    "location": (request.form.get("location") or "").strip() or None,
                    "call_number": (request.form.get("call_number") or "").strip() or None,
                }).barcode)
    except DomainError as e:
        flash(i18n.translate(e), "error")
        return redirect(url_for("cataloguing.record", bib_id=bib.id))
    flash(ngettext("%(num)s copy added: %(barcodes)s.", "%(num)s copies added: %(barcodes)s.",
                   len(made), barcodes=", ".join(made)),
          "success")
    return redirect(url_for("cataloguing.labels_page", barcode=made))


@bp.route("/labels")
@requires(*STAFF)
def labels_page():
    """Choose copies (by record or by barcode) and how to print them."""
    chosen = set(request.args.getlist("barcode"))
    bib_id = request.args.get("bib")
    query = Item.select().where(Item.library == g.ctx.library)
    if bib_id:
        query = query.where(Item.bib == bib_id)
    elif chosen:
        query = query.where(Item.barcode << list(chosen))
    else:
        query = query.order_by(Item.accession_date.desc(), Item.barcode.desc()).limit(48)
    items = list(query.order_by(Item.barcode))
    titles = {b.id: b.title for b in Bib.select(Bib.id, Bib.title)
              .where(Bib.id << [i.bib_id for i in items])} if items else {}
    return render_template("cataloguing/labels.html", items=items, titles=titles,
                           chosen=chosen or {i.barcode for i in items})


@bp.route("/labels/print")
@requires(*STAFF)
def print_labels():
    """The sheet as a PDF (to print) or a PNG of its first page; nothing is changed."""
    barcodes = request.args.getlist("barcode")
    symbology = request.args.get("symbology", "code128")
    kind = request.args.get("kind", "items")
    fmt = "PNG" if request.args.get("format") == "png" else "PDF"
    items = list(Item.select().where((Item.library == g.ctx.library)
                                     & (Item.barcode << barcodes)).order_by(Item.barcode)) \
        if barcodes else []
    error = None
    if not items:
        error = _("Choose at least one copy.")
    elif symbology not in SYMBOLOGIES or kind not in ("items", "spine"):
        error = _("Choose Code 128 or Codabar, item or spine labels.")
    if error is None:
        try:
            return _sheet(items, symbology, kind, fmt)
        except labels.LabelError:
            error = _("Codabar labels take digits only; print these barcodes as Code 128.")
    flash(error, "error")
    return redirect(url_for("cataloguing.labels_page", barcode=barcodes))


def _sheet(items, symbology, kind, fmt):
    titles = {b.id: b.title for b in Bib.select(Bib.id, Bib.title)
              .where(Bib.id << [i.bib_id for i in items])}
    name = g.ctx.settings.get("library_name", g.ctx.library)
    sheet = [labels.Label(i.barcode, titles.get(i.bib_id, ""), name, i.call_number or "")
             for i in items]
    pages = labels.spine_sheet(sheet) if kind == "spine" else \
        labels.barcode_sheet(sheet, symbology)
    out = io.BytesIO()
    labels.save_pages(pages, out, fmt)
    out.seek(0)
    suffix = fmt.lower()
    return send_file(out, mimetype="application/pdf" if fmt == "PDF" else "image/png",
                     as_attachment=True, download_name=f"labels-{kind}.{suffix}")


@bp.route("/<bib_id>/cover", methods=["POST"])
@requires(*STAFF)
def upload_cover(bib_id):
    bib = catalogue.get_bib(g.ctx, bib_id)
    if g.ctx.files is None:
        flash(_("This device keeps no data folder for covers."), "error")
        return redirect(url_for("cataloguing.record", bib_id=bib.id)), 400
    upload = request.files.get("cover")
    try:
        covers.save(g.ctx.files, bib.id, upload.read() if upload else b"")
    except covers.CoverError as e:
        flash(_(e.args[0]), "error")
        return render_cover_refusal(bib)
    flash(_("Cover saved."), "success")
    return redirect(url_for("cataloguing.record", bib_id=bib.id))


def render_cover_refusal(bib):
    items = list(Item.select().where(Item.bib == bib.id).order_by(Item.library, Item.barcode))
    return render_template("cataloguing/record.html", bib=bib, items=items,
                           item_types=ITEM_TYPES, max_copies=MAX_COPIES,
                           has_cover=_has_cover(bib.id), can_cover=True,
                           duplicates=_duplicates_of(bib)), 400


@bp.route("/<bib_id>/cover/delete", methods=["POST"])
@requires(*STAFF)
def delete_cover(bib_id):
    bib = catalogue.get_bib(g.ctx, bib_id)
    if g.ctx.files is not None:
        covers.remove(g.ctx.files, bib.id)
    flash(_("Cover removed."), "success")
    return redirect(url_for("cataloguing.record", bib_id=bib.id))

