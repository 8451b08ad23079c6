"""Download my data, as the OPAC, the desk and the API give it (core/rights/export.py):
JSON, or a readable PDF in the language of the page."""

import json

from flask import Response
from flask_babel import gettext

from ..core.rights import export


def _tr(msgid):
    return gettext(msgid)


def export_response(patron, fmt="json"):
    data = export.collect(patron)
    name = f"thuvien-{patron.card}"
    if fmt == "pdf":
        return Response(export.to_pdf(data, _tr), mimetype="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{name}.pdf"'})
    return Response(json.dumps(data, ensure_ascii=False, indent=2),
                    mimetype="application/json", headers={
                        "Content-Disposition": f'attachment; filename="{name}.json"'})
