"""Who may call what. Every view states its roles with `requires(...)` or `public`;
a request to a view that states nothing is refused, so a forgotten decorator fails
closed. Staff log in with a session cookie; programs use a bearer token."""

import hmac
import secrets
import time
from urllib.parse import urlsplit

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

from ..core import passwords, records, users
from ..core.errors import N_, DomainError, Forbidden
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


def make_token(user):
    """An API token for the account: a key the database knows, revoked with the account."""
    return users.open_login(user.username, "token", TOKEN_AGE)


def _bearer_identity():
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    return users.login_identity(header[7:].strip(), "token")


def start_session(subject, role, lifetime, permanent=True, **values):
    """A fresh session cookie for a login (the language chosen before it is kept); the
    database holds it so logging out ends it everywhere, a copied cookie included.
    `permanent=False`: the cookie ends with the browser too (a shared OPAC terminal)."""
    lang = session.get("lang")
    session.clear()
    session.permanent = permanent
    key = users.open_login(subject, "session", lifetime)
    session.update(sid=key, user=subject, role=role, login_at=int(time.time()), **values)
    if lang:
        session["lang"] = lang


def identity():
    """The caller: {"username", "role"} or None, as the database says now: a session or
    token that was logged out, or whose account was disabled or deleted, is nobody."""
    if "identity" not in g:
        g.identity = _bearer_identity()
        g.by_token = g.identity is not None
        if g.identity is None and session.get("sid"):
            g.identity = users.login_identity(session["sid"], "session")
    return g.identity


def client_address():
    return request.remote_addr or "-"


def guarded_sign_in(sign_in, *args, **kwargs):
    """A patron's card and PIN checked through `sign_in`, with wrong PINs and unknown
    cards counted per client address over every card it tries: one PIN sprayed over many
    cards meets a growing wait (each card has its own lock-out besides)."""
    key = f"pin-client|{client_address()}"
    wait = passwords.wait_left(key)
    if wait:
        raise Forbidden("pin_wait", N_("Too many wrong PINs from here. Try again in "
                                       "%(seconds)s seconds."), seconds=wait)
    try:
        return sign_in(*args, **kwargs)
    except DomainError as e:
        if e.code in ("pin_wrong", "patron_not_found"):
            passwords.failed(key, passwords.PIN_CLIENT_FREE_FAILURES)
        raise


def safe_next(target):
    """`target` if it is a path on this site, else None. Browsers drop tabs and line
    breaks and read a backslash as a slash, so `/%09/evil.example/` and `/\\evil` would
    leave the site: any such character, a scheme or a host refuses the target."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(c.isspace() or not c.isprintable() for c in target):
        return None
    parts = urlsplit(target)
    return target if not (parts.scheme or parts.netloc) else None


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
    records.acting.set(who["username"] if who else None)
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
    app.teardown_request(lambda exc: records.acting.set(None))  # threads serve others next
    app.jinja_env.globals.update(csrf_token=csrf_token, identity=identity,
                                 languages=i18n.LANGUAGES, locale=i18n.select_locale)


def is_staff():
    who = identity()
    return bool(who and who["role"] in STAFF)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if request.method == "POST":
        try:
            user = users.authenticate(g.ctx, request.form.get("username"),
                                      request.form.get("password"), client=client_address())
        except DomainError as e:
            flash(i18n.translate(e), "error")
            return render_template("login.html"), 401
        start_session(user.username, user.role,
                      KIOSK_SESSION if user.role == "kiosk" else STAFF_SESSION)
        target = safe_next(request.args.get("next"))
        if target is None:
            target = url_for("kiosk.start") if user.role == "kiosk" and \
                "kiosk.start" in current_app.view_functions else url_for("desk.home")
            if user.role == "report_viewer" and "reports.home" in current_app.view_functions:
                target = url_for("reports.home")  # the reports are all this role reads
        return redirect(target)
    return render_template("login.html")


@bp.route("/logout", methods=["POST"])
@public
def logout():
    users.close_login(session.get("sid"))  # a copy of the cookie is dead too
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
