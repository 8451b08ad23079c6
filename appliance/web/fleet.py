"""The hub's fleet page: every device's health, filters, revoke, re-enrol, tokens with QR,
and the devices' configuration (provisioning/config.py), published for the town, a library
or a device."""

import base64
import json
from datetime import timedelta

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from appliance.core.errors import DomainError
from provisioning import bundle, config, fleet, health
from sync import models as sync_models
from sync.models import Device

from .auth import requires

bp = Blueprint("fleet", __name__, url_prefix="/hub/fleet")
VIEWERS = ("hub_admin", "report_viewer")


@bp.record_once
def _tables(state):
    db = state.app.extensions["thuvien"].db
    sync_models.ensure_tables(db)
    health.ensure_tables(db)


@bp.before_request
def _hub_only():
    if g.ctx.role != "hub":
        abort(404)


def _number(name):
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        flash(_("The number of days must be a number."), "error")
        return None
    return value if value >= 0 else None


@bp.route("")
@requires(*VIEWERS)
def index():
    return _page()


def _page(form=None, status=200):
    """The fleet page; `form`: a configuration sent back to be corrected, as it was typed."""
    silent = _number("silent")
    behind = request.args.get("behind") == "1"
    return render_template("fleet/index.html", devices=fleet.rows(silent, behind),
                           silent=silent, behind=behind, configs=config.published(),
                           form=form or {}, dumps=_pretty,
                           sections=sorted(config.SECTIONS)), status


def _pretty(body):
    return json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True)


@bp.route("/config", methods=["POST"])
@requires("hub_admin")
def publish_config():
    """Publish a configuration; a wrong one is said and sent back as typed, not lost."""
    form = {k: (request.form.get(k) or "").strip() for k in ("library", "device", "body")}
    try:
        body = json.loads(form["body"])
    except ValueError as exc:
        flash(_("The configuration is not valid JSON: %(error)s", error=str(exc)), "error")
        return _page(form, 400)
    try:
        row = config.publish(g.ctx, body, form["library"].upper() or bundle.ANY,
                             form["device"] or bundle.ANY)
    except DomainError as exc:
        flash(_(exc.message, **exc.params), "error")
        return _page(form, 400)
    flash(_("Configuration %(version)s is published: its devices apply it at their next "
            "sync.", version=row.version), "ok")
    return redirect(url_for("fleet.index") + "#config")


@bp.route("/<device_id>/revoke", methods=["POST"])
@requires("hub_admin")
def revoke(device_id):
    # sync.enrol brings requests (5 MB with urllib3): imported by the hub's pages that use
    # it, not with every device's web server
    from sync import enrol

    try:
        enrol.revoke(g.ctx, device_id)
        flash(_("Device %(device)s is revoked: its sync stops now.", device=device_id), "ok")
    except DomainError as exc:
        flash(_(exc.message, **exc.params), "error")
    return redirect(url_for("fleet.index"))


@bp.route("/<device_id>/approve", methods=["POST"])
@requires("hub_admin")
def approve(device_id):
    from sync import enrol  # as in revoke()

    try:
        enrol.approve(g.ctx, device_id)
        flash(_("Device %(device)s is approved: it syncs from its next run.", device=device_id),
              "ok")
    except DomainError as exc:
        flash(_(exc.message, **exc.params), "error")
    return redirect(url_for("fleet.index"))


@bp.route("/tokens", methods=["POST"])
@requires("hub_admin")
def new_token():
    """A token for a library, or for re-enrolling a device (which is revoked first)."""
    from sync import enrol  # as in revoke()

    device_id = request.form.get("reenrol")
    library = (request.form.get("library") or "").strip().upper()
    try:
        if device_id:
            device = Device.get_or_none(Device.id == device_id)
            if device is None:
                abort(404)
            library = device.library
            if device.status != "revoked":
                enrol.revoke(g.ctx, device_id)
        token = enrol.create_token(g.ctx, library)
    except DomainError as exc:
        flash(_(exc.message, **exc.params), "error")
        return redirect(url_for("fleet.index"))
    hub_url = (g.ctx.settings.get("public_url") or request.host_url).rstrip("/")
    expires = bundle.utcnow() + timedelta(hours=enrol.TOKEN_TTL_HOURS)
    from provisioning import qr  # qrcode: 2 MB that only a token page needs (server RSS)

    text = qr.enrolment_text(hub_url, token, library, bundle.iso(expires))
    png = base64.b64encode(qr.qr_png(text)).decode("ascii")
    return render_template("fleet/token.html", token=token, library=library, hub_url=hub_url,
                           qr_png=png, token_file=text, reenrol=device_id)
