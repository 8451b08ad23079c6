"""The Flask application: desk, API and (registered below) every other blueprint."""

import importlib
import ipaddress
import secrets

from flask import Flask, g, redirect, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel

from ..core.context import Context
from ..core.db import create_registered
from . import auth, i18n

# Blueprints as "module:attribute". Each area adds its own line.
BLUEPRINTS = [
    "appliance.web.auth:bp",
    "appliance.web.desk:bp",
    "appliance.web.api:bp",
    "appliance.web.kiosk:bp",
    "appliance.web.device_events:bp",
    "appliance.web.oai:bp",
    "appliance.web.opac:bp",
    "appliance.web.opendata:bp",
    "appliance.web.cataloguing:bp",
    "appliance.web.catalogue_import:bp",
    "sync.hub:bp",
    "sync.certweb:bp",
    "appliance.web.fleet:bp",
    "appliance.web.reports:bp",
    "appliance.web.roster:bp",
    "appliance.web.stocktake:bp",
    "appliance.web.digital:bp",
    "appliance.web.requests:bp",
    "appliance.web.notices:bp",
    "appliance.web.training:bp",
]

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is `Secure` whenever the request came over HTTPS, so one app
    serves the kiosk on loopback HTTP and people on the LAN over HTTPS."""

    def get_cookie_secure(self, app):
        return request.is_secure or super().get_cookie_secure(app)


def _is_loopback(address) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


# Machine-to-machine paths whose content protects itself (sealed batches, signed bundles
# and renewal requests, the public CA certificate): branches enrolled with an http:// hub
# address before the hub served HTTPS keep syncing. Enrolment (a token) is not among them.
PLAIN_HTTP_PATHS = ("/sync/v1/exchange", "/sync/v1/updates/", "/sync/v1/ca", "/sync/v1/cert",
                    "/sync/v1/card")


def https_redirect(app):
    """HTTP from another machine goes to HTTPS (``THUVIEN_HTTPS_PORT``, set by `thuvien
    serve` when this device has a certificate); loopback HTTP (the kiosk, the demo, the
    device daemon, the update health check) stays as it is."""
    port = app.config.get("THUVIEN_HTTPS_PORT")
    if not port or request.is_secure or _is_loopback(request.remote_addr):
        return None
    if request.path.startswith(PLAIN_HTTP_PATHS):
        return None
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    netloc = host if int(port) == 443 else f"{host}:{port}"
    return redirect(f"https://{netloc}{request.full_path.rstrip('?')}", code=308)


def create_app(ctx_or_dir, testing=False, **config):
    # Import every area first: their modules register their tables with the database.
    blueprints = [getattr(importlib.import_module(module), attr)
                  for module, attr in (spec.split(":") for spec in BLUEPRINTS)]
    ctx = ctx_or_dir if isinstance(ctx_or_dir, Context) else Context.open(ctx_or_dir)
    create_registered(ctx.db)  # a context opened before those imports gets them now
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=ctx.settings.get("secret_key") or secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="thuvien_session",
        PERMANENT_SESSION_LIFETIME=auth.KIOSK_SESSION,  # staff sessions end sooner: auth.py
        BABEL_DEFAULT_LOCALE="vi",
        BABEL_DEFAULT_TIMEZONE="Asia/Ho_Chi_Minh",
        BABEL_TRANSLATION_DIRECTORIES=i18n.compiled_dir(),
        TESTING=testing,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config)
    app.session_interface = _SessionInterface()
    app.before_request(lambda: https_redirect(app))  # first: nothing runs in clear
    app.extensions["thuvien"] = ctx

    @app.teardown_request
    def _hand_back_connection(exc):
        """This thread's SQLite connection goes back to the idle ones for the next request
        on any thread (core/db.py SqliteDatabase): a connection or two, not one per server
        thread. A streamed response (stream_with_context) hands it back when it ends."""
        db = ctx.db
        if hasattr(db, "close_idle") and not db.is_closed() and not db.in_transaction():
            db.close()

    Babel(app, locale_selector=i18n.select_locale)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    from . import errors, helpers

    errors.register(app)
    helpers.register(app)
    auth.install(app)

    @app.before_request
    def _language():
        lang = request.args.get("lang")
        if lang in i18n.LANGUAGES:
            session["lang"] = lang
        g.ctx = ctx

    from . import training

    training.install(app)  # practice mode: a session's own copy, bound per request

    @app.after_request
    def _headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app
