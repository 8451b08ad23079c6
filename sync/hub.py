"""Web side of sync: the hub's endpoints and the desk's "sync now" button.

The device endpoints carry no cookie: a batch is authenticated by its
signature, the enrolment by its one-time token. They answer JSON errors
``{"error": {"code", "message"}}`` (with ``cursor`` when the hub knows it).
"""

from __future__ import annotations

import logging
import time

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import gettext as _

from appliance.core.errors import DomainError
from appliance.web.auth import STAFF, csrf_exempt, public, requires
from provisioning import bundle, health, updates

# agent, cardcheck and enrol are a branch's side of sync and bring requests (5 MB with
# urllib3): the views that use them import them, not every device's web server.
from . import deskrun, files, protocol, receive, status
from .models import ensure_tables

log = logging.getLogger("thuvien.sync")
bp = Blueprint("sync", __name__)
MAX_BATCH = 16 * 1024 * 1024


@bp.record_once
def _tables(state):
    ctx = state.app.extensions.get("thuvien")
    if ctx is not None:
        ensure_tables(ctx.db)
        health.ensure_tables(ctx.db)
        state.app.extensions[RUNS] = deskrun.DeskRuns(lambda: _desk_run(ctx))


def _ctx():
    return current_app.extensions["thuvien"]


def _error(code, message, status_code, **extra):
    resp = jsonify({"error": {"code": code, "message": message, **extra}})
    resp.status_code = status_code
    return resp


def _sealed(limit: int, too_large: str, handle):
    """A sealed envelope posted by a device: its size checked before it is read, its
    refusal said as JSON, its answer sealed bytes."""
    ctx = _ctx()
    if ctx.role != "hub":
        return _error("not_hub", "this appliance is not a hub", 404)
    if (request.content_length or 0) > limit:
        return _error("too_large", too_large, 413)
    try:
        answer = handle(ctx, request.get_data(cache=False))
    except receive.Refusal as exc:
        # the hub's time too, so that a branch refused for a clock set ahead can ask
        # for it in a signed answer (agent._Run.hint_ms)
        return _error(exc.code, exc.reason, exc.status, hub_ms=int(time.time() * 1000),
                      **({"cursor": exc.cursor} if exc.cursor is not None else {}))
    return Response(answer, mimetype="application/octet-stream")


@bp.route(protocol.PATH, methods=["POST"])
@public
@csrf_exempt  # authenticated by the envelope's signature
def exchange():
    return _sealed(MAX_BATCH, "batch over the size limit", receive.exchange)


@bp.route("/sync/v1/card", methods=["POST"])  # cardcheck.PATH
@public
@csrf_exempt  # authenticated by the envelope's signature
def card_check():
    """A branch asks about a town-wide card of another library (and its PIN)."""
    from . import cardcheck

    return _sealed(64 * 1024, "a card check is small", cardcheck.answer_request)


@bp.route(files.PATH, methods=["POST"])
@public
@csrf_exempt  # authenticated by the envelope's signature
def digital_files():
    """A branch's masters up, other libraries' thumbnails down (sync.files)."""
    return _sealed(files.MAX_REQUEST, "a files request is one chunk", files.answer_request)


@bp.route(protocol.ENROL_PATH, methods=["POST"])
@public
@csrf_exempt  # authenticated by the one-time token
def enrol_device():
    from . import enrol

    ctx = _ctx()
    if ctx.role != "hub":
        return _error("not_hub", "this appliance is not a hub", 404)
    try:
        return jsonify(enrol.accept(ctx, request.get_json(silent=True)))
    except DomainError as exc:
        log.warning("sync: enrolment refused: %s", exc)
        return _error(exc.code, str(exc), exc.status)


@bp.route(protocol.UPDATES_PATH + "/<name>")
@public  # the project's own software, signed: the device checks it, not the request
def update_bundle(name):
    ctx = _ctx()
    if ctx.role != "hub" or not bundle.UPDATE_FILE.match(name):
        return _error("not_found", "no such update bundle", 404)
    folder = ctx.data_dir / updates.OFFER_DIR
    if not (folder / name).is_file():
        return _error("not_found", "no such update bundle", 404)
    return send_from_directory(folder, name, mimetype="application/zip", conditional=True)


DESK_DEADLINE = 60  # seconds: a person waits at the desk (the scheduled run has ten)
QUICK = 3  # seconds a run is waited for before the desk answers "under way"
RUNS = "thuvien.desk_sync"


def _desk_run(ctx):
    """One run in its own thread (sync/deskrun.py), on a connection handed back when it
    ends (core/db.py)."""
    from . import agent

    try:
        return agent.run_once(ctx, deadline=DESK_DEADLINE, files=False)
    finally:
        if not ctx.db.is_closed() and not ctx.db.in_transaction():
            ctx.db.close()


def _runs():
    return current_app.extensions[RUNS]


def _said(run):
    """(category, message) of a finished run, in the reader's language."""
    if run.error is None:
        return "info", _("Synchronised: %(pushed)s sent, %(pulled)s received.",
                         pushed=run.result["pushed"], pulled=run.result["pulled"])
    if isinstance(run.error, protocol.SyncError):
        from . import agent

        return "error", _("Sync failed: %(reason)s", reason=agent.describe(run.error, _))
    return "error", _("Sync failed: %(reason)s", reason=str(run.error) or type(run.error).__name__)


@bp.route("/desk/sync/now", methods=["POST"])
@requires("librarian", "branch_admin", "hub_admin")
def sync_now():
    """Starts a run (or joins the one under way) without holding this server thread for
    it: a quick run's result is said at once, a slow one's on the desk's status line
    when it ends (`sync_result`, and sync.js asks for the line meanwhile)."""
    run = _runs().start()
    if run.done.wait(QUICK):
        category, message = _said(run)
        flash(message, category)
    else:
        session["sync_run"] = run.id
    target = request.referrer or ""
    if not target.startswith(request.host_url):
        target = url_for("desk.home")
    return redirect(target)


@bp.route("/desk/sync/status")
@requires(*STAFF)
def desk_status():
    """The status line alone: what sync.js puts in place of the one on the page."""
    return render_template("sync/status.html")


def _sync_result():
    """(category, message) of the run this session started, once it has ended: said once."""
    number = session.get("sync_run")
    if number is None:
        return None
    run = _runs().get(number)
    if run is not None and not run.done.is_set():
        return None
    session.pop("sync_run")
    return _said(run) if run is not None else None


@bp.app_context_processor
def _status_helper():
    def sync_status():
        try:
            return status.summary(_ctx())
        except Exception:  # a status line must never break the desk
            log.exception("sync: status failed")
            return None
    return {"sync_status": sync_status, "sync_result": _sync_result,
            "sync_running": lambda: RUNS in current_app.extensions and _runs().running(),
            "clock_warning": lambda summary: status.clock_warning(summary, _)}
