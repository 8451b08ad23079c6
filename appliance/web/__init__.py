"""The Flask application: desk, API and (registered below) every other blueprint."""

import importlib
import secrets

from flask import Flask, g, request, session
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
    "sync.hub:bp",
    "appliance.web.fleet:bp",
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
    app.extensions["thuvien"] = ctx
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

    @app.after_request
    def _headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app
