"""Reports in the browser and the API: a library's statistics over a period with the
year before and charts, counting visits and copies read on site, the town's dashboard
and semi-annual report (hub), and the JSON of both (/api/v1/reports/...)."""

from flask import Blueprint, abort, g, request
from flask_babel import gettext

from ...core.errors import N_, Forbidden, NotFound
from ...core.models import Library
from ...core.reports import period as periods
from ...core.reports import town
from ..auth import identity

bp = Blueprint("reports", __name__)

READERS = ("report_viewer", "branch_admin", "hub_admin")  # the API and the exports
DESK = ("librarian",) + READERS  # the library's own page
COUNTERS = ("librarian", "branch_admin", "hub_admin")  # who counts visits and uses


@bp.record_once
def _tables(state):
    town.ensure_tables(state.app.extensions["thuvien"].db)


def tr(msgid, **params):
    return gettext(msgid, **params)


def hide_small():
    """report_viewer sees aggregates only: figures over fewer than five people withheld."""
    who = identity()
    return bool(who) and who["role"] == "report_viewer"


def today():
    return g.ctx.clock.today()


def chosen_period(default="month"):
    """The period the request names: ?period=2026-H1, or ?kind=&year=&number=, or
    ?from=&to=; else the current month (or half-year, for the town)."""
    args = request.args
    if args.get("period"):
        return periods.parse(args["period"])
    if args.get("from") or args.get("to"):
        return periods.between(args.get("from") or "", args.get("to") or "")
    now = today()
    kind = args.get("kind") or default
    year = _int(args.get("year"), now.year)
    if kind == "year":
        return periods.year(year)
    if kind == "quarter":
        return periods.quarter(year, _int(args.get("number"), (now.month - 1) // 3 + 1, 4))
    if kind == "half":
        return periods.half(year, _int(args.get("number"), 1 if now.month <= 6 else 2, 2))
    return periods.month(year, _int(args.get("number"), now.month, 12))


def _int(text, default, top=None):
    try:
        value = int(str(text).strip())
    except (TypeError, ValueError):
        return default
    if value < 1 or (top is not None and value > top) or value > 9999:
        return default
    return value


def library_of_request(required=False):
    """(code, name) of the library asked about: at a branch only its own; at the hub any
    library of the town, or (None, None) for the whole town when none is named."""
    code = (request.args.get("library") or "").strip().upper()
    if g.ctx.role != "hub":
        if code and code != g.ctx.library:
            raise Forbidden("other_library_report", N_("This device reports on library "
                                                        "%(library)s only."),
                            library=g.ctx.library)
        code = g.ctx.library
    if not code:
        if required:
            abort(400)
        return None, None
    entry = town.LibraryEntry.get_or_none(town.LibraryEntry.code == code)
    lib = Library.get_or_none(Library.code == code)
    if entry is None and lib is None:
        raise NotFound("library_not_found", N_("No library has code %(library)s."),
                       library=code)
    return code, (entry.name if entry else lib.name) or code


def links():
    """{library: {"last_sync", "active"}} from the hub's device registry."""
    from ...cli.report import device_links

    return device_links(g.ctx)


def visit(patron=None, card=None):
    """A patron identified at the desk or the kiosk: the day's visit, counted once. A
    card that names nobody counts nothing (the page that follows says so)."""
    from ...core import patrons
    from ...core.errors import DomainError
    from ...core.reports import counting

    try:
        counting.patron_identified(g.ctx, patron or patrons.find(g.ctx, card))
    except DomainError:
        pass


def register_codes():
    """The libraries the town's figures add up: the register's, or every one held."""
    return [e["code"] for e in town.register()] or None


def due_warning():
    """(half-year, due date, days left) from 20 days before a report is due."""
    return periods.due_warning(today())


from . import api, views  # noqa: E402,F401  (views register on bp)
