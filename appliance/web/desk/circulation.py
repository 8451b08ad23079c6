"""Checkout, checkin, renewal and the day's figures."""

from flask import g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ...core import audit, circulation, holds, stats
from ...core.models import Hold, Loan
from ...core.requests import commands as requests
from ..auth import STAFF, requires
from ..helpers import library_name
from . import attempt, back, bp, form


@bp.route("/")
@requires(*STAFF)
def home():
    return render_template("desk/home.html", counts=stats.today_counts(g.ctx))


@bp.route("/checkout", methods=["POST"])
@requires(*STAFF)
def checkout():
    card, barcode = form("card"), form("barcode")
    attempt(lambda: circulation.checkout(g.ctx, card, barcode, actor=session.get("user")),
            lambda r: _("%(title)s lent until %(due)s.", title=r["title"],
                        due=_date(r["due_date"])))
    # no "#scan" fragment: Chromium skips autofocus on a URL with one, and the scanner's
    # next code would go nowhere
    return redirect(url_for("desk.patron", card=card))


@bp.route("/checkin", methods=["GET", "POST"])
@requires(*STAFF)
def checkin():
    result = None
    if request.method == "POST":
        barcode = form("barcode")
        # the desk's scan traps a copy pulled from the shelf for a hold (the pull list)
        result = attempt(lambda: circulation.checkin(g.ctx, barcode, actor=session.get("user"),
                                                     at_desk=True))
        if result and result.get("loan_id"):  # lent by post: its request is back too
            result["by_post"] = requests.returned(g.ctx, result["loan_id"],
                                                  actor=session.get("user"))
        _audit_checkin(result)
    return render_template("desk/checkin.html", result=result,
                           today=g.ctx.clock.today().isoformat())


def _audit_checkin(result):
    """A return shows who had the copy, and the patron a hold now waits for."""
    if not result:
        return
    seen = []
    hold = result.get("hold") or {}
    if hold.get("hold_id"):
        held = Hold.get_or_none(Hold.id == hold["hold_id"])
        seen += [held.patron_id] if held else []
    if result.get("loan_id"):
        loan = Loan.get_or_none(Loan.id == result["loan_id"])
        seen += [loan.patron_id] if loan else []
    audit.seen(g.ctx, session.get("user"), "checkin", seen)


@bp.app_template_global()
def renewals_left(loan, category, item_type=None):
    """How many renewals a loan has left (the desk, the OPAC and the kiosk offer "Renew"
    only while there is one)."""
    return circulation.renewals_left(loan, category, item_type or loan.item.item_type)


@bp.route("/holds/pull")
@requires(*STAFF)
def pull_list():
    """Copies on the open shelf that waiting holds can take: staff fetch them and scan
    each at Returns, which puts it on the hold shelf and gives the slip."""
    rows = holds.pull_list(g.ctx.library)
    asked = holds.asked_of(g.ctx.library)  # other libraries' holds: "we cannot fill it"
    audit.seen(g.ctx, session.get("user"), "holds.pull",
               [hold.patron_id for hold, _copy in rows] + [hold.patron_id for hold in asked])
    return render_template("desk/pull.html", rows=rows, asked=asked,
                           reasons=DECLINE_REASONS)


# What staff most often answer when they cannot send a copy (they may write another).
DECLINE_REASONS = (_l("Not on the shelf where the catalogue says"), _l("Damaged"),
                   _l("Kept for reading in the library"))


@bp.route("/holds/<hold_id>/decline", methods=["POST"])
@requires(*STAFF)
def decline_hold(hold_id):
    """This library, asked to send a copy for another library's hold, cannot."""
    attempt(lambda: holds.decline(g.ctx, hold_id, form("reason"), actor=session.get("user")),
            lambda r: _("Library %(library)s will be told, and the hold for %(title)s is "
                        "asked of another library.", library=library_name(r["library"]),
                        title=r["title"]))
    return redirect(url_for("desk.pull_list"))


@bp.route("/renew", methods=["POST"])
@requires(*STAFF)
def renew():
    barcode = form("barcode")
    attempt(lambda: circulation.renew(g.ctx, barcode, actor=session.get("user")),
            lambda r: _("Renewed until %(due)s.", due=_date(r["due_date"])))
    return redirect(back(url_for("desk.home")))


@bp.route("/overdue")
@requires(*STAFF)
def overdue():
    loans = list(stats.overdue_query(g.ctx))
    audit.seen(g.ctx, session.get("user"), "overdue", [loan.patron_id for loan in loans])
    return render_template("desk/overdue.html", loans=loans)


def _date(iso):
    from ..helpers import vndate
    return vndate(iso)
