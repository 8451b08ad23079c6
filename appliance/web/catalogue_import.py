"""Importing a catalogue file from the desk: the same import as `thuvien import`, with
its report on the page (one line per record that could not be taken)."""

from flask import Blueprint, g, render_template, request
from flask_babel import gettext as _

from .auth import STAFF, requires

bp = Blueprint("catalogue_import", __name__, url_prefix="/desk/catalogue/import")
FORMATS = {"marc": "MARC21 (ISO 2709)", "marcxml": "MARCXML", "csv": "CSV"}


@bp.route("/", methods=["GET", "POST"])
@requires(*STAFF)
def page():
    if request.method == "GET":
        return render_template("cataloguing/import.html", formats=FORMATS, report=None)
    kind = request.form.get("format", "")
    upload = request.files.get("file")
    error = None
    if kind not in FORMATS:
        error = _("Choose the format of the file.")
    elif upload is None or not upload.filename:
        error = _("Choose a file to import.")
    if error:
        return render_template("cataloguing/import.html", formats=FORMATS, report=None,
                               error=error), 400
    from ..core import importer  # with pymarc: imported when used, as in oai._marc

    report = importer.import_stream(g.ctx, kind, upload.stream)
    return render_template("cataloguing/import.html", formats=FORMATS, report=report,
                           filename=upload.filename)
