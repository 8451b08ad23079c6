"""The self-check kiosk at /kiosk: a patron identifies, borrows, returns, renews and
takes a receipt, alone. The page runs under a kiosk account; everything it does
is for the one patron who identified, kept in the session until they finish or
the kiosk goes idle."""

from flask import Blueprint

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

from . import views  # noqa: E402,F401  (views register on bp)
