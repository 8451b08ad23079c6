"""Patrons at the desk. Every view of a patron record is written to the audit log."""

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ...core import audit, holds, patrons
from ...core.conflicts import taken_number
from ...core.errors import DomainError
from ...core.models import OPEN_HOLDS, Hold, Loan
from ...core.policy import CATEGORIES
from ...core.rights import commands
from ...core.rights import history as rights_history
from .. import reports
from ..auth import STAFF, requires
from ..rights import export_response
from . import attempt, back, bp, form

FIELDS = ("card", "name", "category", "expiry", "birth_year", "guardian", "phone", "email",
          "school_class", "birth_date", "guardian_email")


@bp.route("/patrons")
@requires(*STAFF)
def patron_list():
    q = request.args.get("q", "").strip()
    found = patrons.search(g.ctx, q)
    audit.seen(g.ctx, session.get("user"), "patrons.search" if q else "patrons.list", found)
    return render_template("desk/patrons.html", patrons=found, q=q)


@bp.route("/patron", methods=["GET", "POST"])
@requires(*STAFF)
def find_patron():
    card = form("card") or request.args.get("card", "").strip()
    if card and request.method == "POST":  # a card shown at the desk: the day's visit
        reports.visit(card=card)
    return redirect(url_for("desk.patron", card=card)) if card else redirect(url_for("desk.home"))


@bp.route("/patrons/<card>")
@requires(*STAFF)
def patron(card):
    try:
        p = patrons.find(g.ctx, card)
    except DomainError as e:
        return render_template("desk/patron_missing.html", card=card, error=e), 404
    audit.log(g.ctx, session.get("user"), "patron.read", p.id)
    loans = patrons.open_loans(p)
    history = list(Loan.select().where((Loan.patron == p.id) & Loan.returned_at.is_null(False))
                   .order_by(Loan.returned_at.desc()).limit(20)) if rights_history.visible(p) \
        else []  # the patron keeps no reading history: nobody sees their returned loans
    hold_rows = list(Hold.select().where((Hold.patron == p.id)
                                         & (Hold.status << OPEN_HOLDS)))
    return render_template("desk/patron.html", patron=p, loans=loans, holds=hold_rows,
                           history=history, blocks=patrons.blocks(g.ctx, p),
                           card_taken=taken_number(p),
                           today=g.ctx.clock.today().isoformat())


def _patron_form(p=None):
    data = {name: form(name) for name in FIELDS}
    data["guardian_consent"] = bool(request.form.get("guardian_consent"))
    if form("pin"):
        data["pin"] = form("pin")
    if p is not None:
        data["id"] = p.id
    return data


@bp.route("/patrons/new", methods=["GET", "POST"])
@requires(*STAFF)
def new_patron():
    if request.method == "POST":
        saved = attempt(lambda: patrons.save(g.ctx, _patron_form()),
                        _("Patron registered."))
        if saved:
            return redirect(url_for("desk.patron", card=saved.card))
        return render_template("desk/patron_form.html", patron=None, values=request.form,
                               categories=CATEGORIES), 400
    return render_template("desk/patron_form.html", patron=None, values={},
                           categories=CATEGORIES)


@bp.route("/patrons/<card>/edit", methods=["GET", "POST"])
@requires(*STAFF)
def edit_patron(card):
    try:
        p = patrons.find(g.ctx, card)
    except DomainError:
        abort(404)
    audit.log(g.ctx, session.get("user"), "patron.edit_form", p.id)
    if request.method == "POST":
        saved = attempt(lambda: patrons.save(g.ctx, _patron_form(p)), _("Patron saved."))
        if saved:
            return redirect(url_for("desk.patron", card=saved.card))
        return render_template("desk/patron_form.html", patron=p, values=request.form,
                               categories=CATEGORIES), 400
    values = {name: getattr(p, name) or "" for name in FIELDS}
    values["guardian_consent"] = p.guardian_consent
    return render_template("desk/patron_form.html", patron=p, values=values,
                           categories=CATEGORIES)


@bp.route("/patrons/<card>/export.<fmt>")
@requires(*STAFF)
def export_patron(card, fmt):
    """The patron's data, downloaded for them at the desk (logged as a look)."""
    p = patrons.find(g.ctx, card)
    audit.log(g.ctx, session.get("user"), "patron.export", p.id)
    return export_response(p, "pdf" if fmt == "pdf" else "json")


@bp.route("/patrons/<card>/erase", methods=["POST"])
@requires(*STAFF)
def erase_patron(card):
    """Erase a patron who asks, once they owe nothing (core/rights/commands.py)."""
    if form("confirm") != card:
        flash(_("Type the card number to confirm the erasure."), "error")
        return redirect(url_for("desk.patron", card=card))
    if attempt(lambda: commands.erase(g.ctx, card),
               lambda p: _("Card %(card)s is erased: the data is unreadable now.", card=card)):
        return redirect(url_for("desk.patron_list"))
    return redirect(url_for("desk.patron", card=card))


@bp.route("/patrons/<card>/block", methods=["POST"])
@requires(*STAFF)
def block(card):
    attempt(lambda: patrons.block(g.ctx, card, form("reason")), _("Card blocked."))
    return redirect(url_for("desk.patron", card=card))


@bp.route("/patrons/<card>/unblock", methods=["POST"])
@requires(*STAFF)
def unblock(card):
    attempt(lambda: patrons.unblock(g.ctx, card), _("Card unblocked."))
    return redirect(url_for("desk.patron", card=card))


@bp.route("/holds", methods=["POST"])
@requires(*STAFF)
def place_hold():
    card, bib_id = form("card"), form("bib_id")
    attempt(lambda: holds.place(g.ctx, card, bib_id), _("Hold placed."))
    return redirect(back(url_for("desk.patron", card=card)))


@bp.route("/holds/<hold_id>/cancel", methods=["POST"])
@requires(*STAFF)
def cancel_hold(hold_id):
    attempt(lambda: holds.cancel(g.ctx, hold_id), _("Hold cancelled."))
    return redirect(back(url_for("desk.home")))
