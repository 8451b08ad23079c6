"""Who may call what. Every view states its roles with `requires(...)` or `public`;
a request to a view that states nothing is refused, so a forgotten decorator fails
closed. Staff log in with a session cookie; programs use a bearer token."""

import hmac
import secrets
import time

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..core import users
from ..core.errors import DomainError
from . import i18n

bp = Blueprint("auth", __name__)

STAFF = ("librarian", "branch_admin", "hub_admin")
ADMIN = ("branch_admin", "hub_admin")
TOKEN_AGE = 12 * 3600
STAFF_SESSION = 12 * 3600  # a desk login lasts a working day
KIOSK_SESSION = 30 * 24 * 3600  # the kiosk's own account stays logged in on its screen
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def requires(*roles):
    def mark(view):
        view.roles = frozenset(roles)
        return view
    return mark


def public(view):
    view.roles = None
    return view


def csrf_exempt(view):
    """For endpoints that machines call with a signature or token, never a cookie."""
    view.csrf_exempt = True
    return view


def _serializer():
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="api-token")


def make_token(user):
    return _serializer().dumps({"u": user.username, "r": user.role})


def _bearer_identity():
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        data = _serializer().loads(header[7:], max_age=TOKEN_AGE)
    except BadSignature:
        return None
    return {"username": data["u"], "role": data["r"]}


def identity():
    """The caller: {"username", "role"} or None."""
    if "identity" not in g:
        g.identity = _bearer_identity()
        g.by_token = g.identity is not None
        if g.identity is None and session.get("user"):
            age = time.time() - session.get("login_at", 0)
            if session["role"] == "kiosk" or age < STAFF_SESSION:
                g.identity = {"username": session["user"], "role": session["role"]}
    return g.identity


def csrf_token():
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def _csrf_ok(view):
    if request.method in SAFE_METHODS or g.get("by_token") or getattr(view, "csrf_exempt", False):
        return True
    if request.path.startswith("/api/") and request.is_json:
        return True  # a cross-site form cannot send JSON without a CORS preflight
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
    return bool(session.get("csrf")) and hmac.compare_digest(sent, session["csrf"])


def _wants_json():
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _refuse(status):
    if _wants_json():
        from .errors import json_error
        return json_error("unauthorised" if status == 401 else "forbidden",
                          _("Log in first.") if status == 401 else
                          _("Your account may not do this."), status)
    if status == 401:
        return redirect(url_for("auth.login", next=request.full_path))
    abort(403)


def check_request():
    view = current_app.view_functions.get(request.endpoint)
    if view is None or request.endpoint == "static" or request.endpoint.endswith(".static"):
        return None  # 404s and static files: nothing to protect
    if not hasattr(view, "roles"):
        current_app.logger.error("view %s states no roles; refused", request.endpoint)
        abort(403)
    who = identity()
    if view.roles is not None:
        if who is None:
            return _refuse(401)
        if who["role"] not in view.roles:
            return _refuse(403)
    if not _csrf_ok(view):
        abort(400, description=_("The form expired. Please try again."))
    return None


def install(app):
    app.before_request(check_request)
    app.jinja_env.globals.update(csrf_token=csrf_token, identity=identity,
                                 languages=i18n.LANGUAGES, locale=i18n.select_locale)


def is_staff():
    who = identity()
    return bool(who and who["role"] in STAFF)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if request.method == "POST":
        ctx = g.ctx
        try:
            user = users.authenticate(ctx, request.form.get("username"),
                                      request.form.get("password"))
        except DomainError as e:
            flash(i18n.translate(e), "error")
            return render_template("login.html"), 401
        lang = session.get("lang")
        session.clear()
        session.permanent = True
        session.update(user=user.username, role=user.role, login_at=int(time.time()))
        if lang:
            session["lang"] = lang
        target = request.args.get("next") or ""
        if not target.startswith("/") or target.startswith("//"):
            target = url_for("kiosk.start") if user.role == "kiosk" and \
                "kiosk.start" in current_app.view_functions else url_for("desk.home")
        return redirect(target)
    return render_template("login.html")


@bp.route("/logout", methods=["POST"])
@public
def logout():
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/")
@public
def index():
    who = identity()
    if who and who["role"] in STAFF:
        return redirect(url_for("desk.home"))
    if "opac.home" in current_app.view_functions:
        return redirect(url_for("opac.home"))
    return redirect(url_for("auth.login"))
