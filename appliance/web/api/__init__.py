"""JSON API v1. Stable: change a route only with a new version beside it."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import routes  # noqa: E402,F401  (views register on bp)
