"""The OPAC at /opac: search, record pages, new acquisitions (page and Atom feed),
and the patron account (card + PIN): loans, renewals, holds, reading history."""

from flask import Blueprint

bp = Blueprint("opac", __name__, url_prefix="/opac")

from . import account, pages  # noqa: E402,F401  (routes register on bp)
