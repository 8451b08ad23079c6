"""Pupils in bulk at the desk: a class list uploaded, its columns mapped, every row
checked on screen, the good rows imported (core/roster), their cards printed; the new
school year planned and carried out. Uploaded files wait in the data folder under a
random name until they are imported (or a day has passed)."""

import io
import os
import re
import secrets
import time
from pathlib import Path

from flask import Blueprint, abort, g, redirect, render_template, request, send_file, url_for
from flask import session as web_session
from flask_babel import gettext as _
from flask_babel import ngettext

from ...core import audit
from ...core.errors import DomainError
from ...core.roster import columns, importing, rules, schoolyear, sheet
from ..auth import ADMIN, STAFF, requires
from ..desk import attempt
from ..i18n import translate

bp = Blueprint("roster", __name__, url_prefix="/desk/patrons")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,40}$")
KEEP_SECONDS = 24 * 3600
SHOWN_GOOD = 300  # good rows shown in a preview; every row with a problem is shown


def _uploads():
    folder = g.ctx.files.own("uploads")  # a practice copy's are its own (core/filestore.py)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _store(data, filename):
    folder = _uploads()
    for old in folder.iterdir():  # what was never imported goes after a day
        if old.stat().st_mtime < time.time() - KEEP_SECONDS:
            old.unlink(missing_ok=True)
    token = secrets.token_urlsafe(18)
    path = folder / token
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    (folder / f"{token}.name").write_text(Path(filename).name[:200], encoding="utf-8")
    return token


def _stored(token):
    if not TOKEN.match(token or ""):
        abort(404)
    path = _uploads() / token
    if not path.exists():
        abort(404)
    name = (_uploads() / f"{token}.name")
    return path.read_bytes(), name.read_text(encoding="utf-8") if name.exists() else ""


def _forget(token):
    for path in (_uploads() / token, _uploads() / f"{token}.name"):
        path.unlink(missing_ok=True)


@bp.route("/import", methods=["GET", "POST"])
@requires(*STAFF)
def upload():
    if request.method == "GET":
        return render_template("roster/upload.html")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("roster/upload.html", error=_("Choose a file to import.")), 400
    data = upload.stream.read(sheet.MAX_BYTES + 1)
    try:
        importing.read(data, upload.filename)  # a file that cannot be read is said at once
    except DomainError as e:
        return render_template("roster/upload.html", error=translate(e)), 400
    return redirect(url_for("roster.preview", token=_store(data, upload.filename)))


def _mapping_from(args):
    """{field: column} from the form, or None when it says nothing (the file's header)."""
    if not any(f"f_{name}" in args for name in columns.FIELDS):
        return None
    mapping = {}
    for name in columns.FIELDS:
        value = args.get(f"f_{name}", "")
        if value.isascii() and value.isdigit() and int(value) < sheet.MAX_COLUMNS:
            mapping[name] = int(value)
    return mapping


@bp.route("/import/<token>")
@requires(*STAFF)
def preview(token):
    data, filename = _stored(token)
    consent = bool(request.args.get("consent"))
    try:
        result = importing.preview(g.ctx, data, filename, _mapping_from(request.args), consent)
    except DomainError as e:
        _forget(token)
        return render_template("roster/upload.html", error=translate(e)), 400
    return render_template("roster/preview.html", p=result, token=token, filename=filename,
                           consent=consent, fields=columns.FIELDS, shown_good=SHOWN_GOOD)


@bp.route("/import/<token>", methods=["POST"])
@requires(*STAFF)
def run_import(token):
    data, filename = _stored(token)
    consent = bool(request.form.get("consent"))
    try:
        report = importing.run(g.ctx, data, filename, _mapping_from(request.form), consent)
    except DomainError as e:
        return render_template("roster/upload.html", error=translate(e)), 400
    _forget(token)
    audit.log_local(web_session.get("user"), "patrons.import", filename,
              f"{len(report.imported)} imported, {len(report.refused)} refused")
    return render_template("roster/report.html", report=report, filename=filename)


@bp.route("/cards", methods=["GET", "POST"])
@requires(*STAFF)
def cards():
    # Pillow is imported when cards are drawn, not with the app (a server's memory)
    from ... import patron_cards

    if request.method == "GET":
        return render_template("roster/cards.html",
                               classes=schoolyear.classes(g.ctx.library))
    chosen = patron_cards.chosen(g.ctx, request.form.get("school_class", "").strip(),
                                 request.form.get("cards", "").split())
    if not chosen:
        return render_template("roster/cards.html", classes=schoolyear.classes(g.ctx.library),
                               error=_("Choose a class or cards to print.")), 400
    words = patron_cards.Words(title=_("LIBRARY CARD"), school_class=_("Class"),
                               expiry=_("Valid until"), photo=_("Photo"))
    out = io.BytesIO()
    patron_cards.write_pdf(g.ctx, chosen, out, words, bool(request.form.get("photo_box")))
    out.seek(0)
    audit.log_local(web_session.get("user"), "patrons.cards", f"{len(chosen)} cards")
    return send_file(out, mimetype="application/pdf", as_attachment=False,
                     download_name="the-ban-doc.pdf")


def _year_args(source):
    chosen = source.getlist("classes") or None
    last = source.get("last_grade", "").strip()
    last_grade = int(last) if last.isdigit() and 1 <= int(last) <= 12 else None
    return chosen, last_grade, source.get("expiry", "").strip() or None


@bp.route("/new-year")
@requires(*STAFF)
def new_year():
    chosen, last_grade, expiry = _year_args(request.args)
    error, plan = None, None
    try:
        plan = schoolyear.plan(g.ctx, chosen, last_grade, expiry)
    except DomainError as e:
        error = translate(e)
    end, age = rules.of(g.ctx.library)
    return render_template("roster/new_year.html", plan=plan, error=error,
                           classes=schoolyear.classes(g.ctx.library), chosen=chosen or [],
                           year_end=f"{end[3:]}/{end[:2]}", child_age=age)


@bp.route("/new-year", methods=["POST"])
@requires(*STAFF)
def begin_year():
    chosen, last_grade, expiry = _year_args(request.form)
    done = attempt(lambda: schoolyear.begin(g.ctx, request.form.get("token", ""), chosen,
                                            last_grade, expiry),
                   lambda p: ngettext("The new school year is set: %(num)s pupil.",
                                      "The new school year is set: %(num)s pupils.", p.count))
    if done is None:
        return redirect(url_for("roster.new_year", classes=chosen or [],
                                last_grade=last_grade or "", expiry=expiry or ""))
    audit.log_local(web_session.get("user"), "patrons.new_year", f"{done.count} pupils")
    return redirect(url_for("desk.patron_list"))


@bp.route("/school-year", methods=["POST"])
@requires(*ADMIN)
def school_year_rules():
    attempt(lambda: rules.save(g.ctx, g.ctx.library, request.form.get("year_end", ""),
                               request.form.get("child_age", "")), _("School year saved."))
    return redirect(url_for("roster.new_year"))
