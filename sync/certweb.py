"""The certificate endpoints: the town CA for anyone, a renewed certificate for a device.

``GET /sync/v1/ca`` answers the CA certificate this device holds (the hub's own, or the
one a branch kept at enrolment): public by nature, so that staff computers can install
it and a new device can check it against the fingerprint in its token.
``POST /sync/v1/cert`` (hub only) renews a device's certificate; the request is signed
by the device's key, so it carries no cookie.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify, request

from appliance.core.errors import DomainError
from appliance.web.auth import csrf_exempt, public

# certs brings requests (5 MB with urllib3) for a branch's renewals: imported by the view
# that uses it, not by every device's web server.
from . import pki

log = logging.getLogger("thuvien.sync")
bp = Blueprint("certs", __name__)


def _error(code, message, status_code):
    resp = jsonify({"error": {"code": code, "message": message}})
    resp.status_code = status_code
    return resp


@bp.route("/sync/v1/ca")  # certs.CA_PATH
@public
def ca_certificate():
    ctx = current_app.extensions["thuvien"]
    file = pki.path(ctx.data_dir, pki.CA_CERT)
    if not file.exists():
        return _error("no_ca", "this appliance holds no CA certificate", 404)
    return Response(file.read_bytes(), mimetype="application/x-pem-file",
                    headers={"Content-Disposition": "attachment; filename=thuvien-ca.pem"})


@bp.route("/sync/v1/cert", methods=["POST"])  # certs.CERT_PATH
@public
@csrf_exempt  # authenticated by the device's signature
def renew_certificate():
    from . import certs

    ctx = current_app.extensions["thuvien"]
    if ctx.role != "hub":
        return _error("not_hub", "this appliance is not a hub", 404)
    try:
        return jsonify(certs.accept_renewal(ctx, request.get_json(silent=True)))
    except DomainError as exc:
        log.warning("sync: certificate renewal refused: %s", exc)
        return _error(exc.code, str(exc), exc.status)
