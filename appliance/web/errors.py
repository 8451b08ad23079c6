"""Errors as people see them: JSON `{"error": {"code", "message"}}` for programs, a
page or a flashed message for people, always in the request's language."""

import logging

from flask import jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from ..core.catalogue import Merged
from ..core.db import one_line, server_unreachable
from ..core.errors import DomainError
from . import i18n

log = logging.getLogger(__name__)


def json_error(code, message, status):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _is_api():
    return request.path.startswith(("/api/", "/iiif/"))  # programs: IIIF viewers too


def register(app):
    @app.errorhandler(Merged)
    def merged(e):
        """A merged record's old address leads to the record it was merged into."""
        args = dict(request.view_args or {})
        if request.method in ("GET", "HEAD") and "bib_id" in args and request.endpoint:
            args["bib_id"] = e.into
            return redirect(url_for(request.endpoint, **args, **request.args), 301)
        return domain_error(e)

    @app.errorhandler(DomainError)
    def domain_error(e):
        if _is_api():
            return json_error(e.code, i18n.translate(e), e.status)
        return render_template("error.html", message=i18n.translate(e), status=e.status), e.status

    @app.errorhandler(HTTPException)
    def http_error(e):
        messages = {400: _("The request was not understood."), 403: _("You may not see this page."),
                    404: _("There is no such page."), 405: _("That action is not allowed here."),
                    413: _("The upload is too large.")}
        message = messages.get(e.code, e.name)
        if e.code == 400 and e.description and not e.description.startswith("The browser"):
            message = e.description
        if _is_api():
            return json_error(e.name.lower().replace(" ", "_"), message, e.code)
        return render_template("error.html", message=message, status=e.code), e.code

    @app.errorhandler(Exception)
    def unexpected(e):
        if server_unreachable(e):  # peewee's errors, or the driver's from plain SQL
            return database_unavailable(e)
        log.exception("unhandled error on %s %s", request.method, request.path)
        message = _("Something went wrong. Nothing was changed; the error has been logged.")
        if _is_api():
            return json_error("internal", message, 500)
        return render_template("error.html", message=message, status=500), 500

    def database_unavailable(e):
        # The server is down or restarting: not this request's fault, and the next one
        # reconnects (core.db), so say "try again" rather than log a traceback.
        log.warning("database server unreachable on %s %s: %s", request.method,
                    request.path, one_line(e))
        message = _("The library's database cannot be reached just now. Nothing was "
                    "saved; try again in a minute. If it lasts, call the town's support.")
        if _is_api():
            response = json_error("database_unavailable", message, 503)
        else:
            response = app.make_response(
                (render_template("error.html", message=message, status=503), 503))
        response.headers["Retry-After"] = "30"
        return response
