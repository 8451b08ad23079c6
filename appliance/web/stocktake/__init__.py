"""The stocktake at the desk: start one, scan copies into it (a keyboard-wedge scanner
typing into the page, or the RFID pad through the devices daemon's events), finish it,
read and act on the result, export the record. At the hub the same pages show each
library's stocktakes, read-only."""

from flask import Blueprint

bp = Blueprint("stocktake", __name__, url_prefix="/desk/stocktake")

from . import views  # noqa: E402,F401  (views register on bp)
