"""The patron's own account: log in with card and PIN, loans, renew, holds, history."""

from datetime import datetime, timezone

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ...core import circulation, events, holds, patrons, townwide
from ...core.clock import unpack
from ...core.errors import DomainError
from ...core.fees import statement
from ...core.models import OPEN_HOLDS, Hold, Item, Loan
from ..auth import STAFF_SESSION, guarded_sign_in, public, requires, start_session
from ..rights import export_response
from . import bp


def _message(err):
    return _(err.message, **err.params) if err.params else _(err.message)


def current_patron():
    return patrons.find(g.ctx, session["patron_card"])


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if request.method == "POST":
        card = request.form.get("card", "").strip()
        try:
            # a card of another library: its PIN is checked at the hub (no link, no login)
            patron, _town = guarded_sign_in(townwide.sign_in, g.ctx, card,
                                            request.form.get("pin", ""), card_alone=False)
        except DomainError as err:
            flash(_message(err) if err.code != "patron_not_found"
                  else _("The card number or PIN is not right."), "error")
            return render_template("opac/login.html", card=card), 401
        start_session(f"patron:{patron.card}", "patron", STAFF_SESSION, permanent=False,
                      patron_card=patron.card)
        return redirect(url_for("opac.account"))
    return render_template("opac/login.html", card="")


@bp.route("/account")
@requires("patron")
def account():
    patron = current_patron()
    loans = patrons.open_loans(patron)
    items = {i.id: i for i in Item.select().where(Item.id << [ln.item_id for ln in loans])}
    held = list(Hold.select().where((Hold.patron == patron.id)
                                    & (Hold.status << OPEN_HOLDS))
                .order_by(Hold.placed_at))
    history = reading_history(patron) if patron.keep_history else []
    return render_template("opac/account.html", patron=patron, loans=loans, items=items,
                           holds=held, history=history, suggested=_suggested(patron),
                           fees=statement.of_patron(g.ctx, patron))


def _suggested(patron):
    """"Gợi ý cho bạn": only for a patron who asked for it."""
    from ...core.suggest import store

    return store.for_patron(patron) if patron.suggestions else []


@bp.route("/account/export.<fmt>")
@requires("patron")
def export_data(fmt):
    """Download my data (a child's guardian, signed in with the child's card, downloads
    the child's)."""
    if fmt not in ("json", "pdf"):
        return redirect(url_for("opac.account"))
    return export_response(current_patron(), fmt)


def history_since(patron):
    """When the patron last turned the history on (or erased it): the HLC stamp of
    that field. Loans returned before it are not the patron's history to show."""
    ms = unpack((patron.field_hlc or {}).get("keep_history", 0))[0]
    return datetime.fromtimestamp(ms // 1000, timezone.utc)  # returns are kept to the second


def _returned(loan):
    try:
        at = datetime.fromisoformat(loan.returned_at)
    except (TypeError, ValueError):
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def reading_history(patron, limit=200):
    since = history_since(patron)
    loans = (Loan.select().where((Loan.patron == patron.id) & Loan.returned_at.is_null(False))
             .order_by(Loan.returned_at.desc()).limit(limit))
    kept = []
    for loan in loans:
        at = _returned(loan)
        if at is not None and at >= since:
            kept.append(loan)
    return kept


def _act(fn, ok_message):
    try:
        fn()
        flash(ok_message, "ok")
    except DomainError as err:
        flash(_message(err), "error")
    return redirect(url_for("opac.account"))


@bp.route("/account/renew", methods=["POST"])
@requires("patron")
def renew():
    card, barcode = session["patron_card"], request.form.get("barcode", "")
    return _act(lambda: circulation.renew(g.ctx, barcode, actor=f"opac:{card}",
                                          patron_card=card),
                _("Renewed: %(barcode)s", barcode=barcode))


@bp.route("/hold", methods=["POST"])
@requires("patron")
def place_hold():
    bib_id = request.form.get("bib_id", "")
    return _act(lambda: holds.place(g.ctx, session["patron_card"], bib_id),
                _("Your hold is placed."))


@bp.route("/hold/<hold_id>/cancel", methods=["POST"])
@requires("patron")
def cancel_hold(hold_id):
    return _act(lambda: holds.cancel(g.ctx, hold_id, patron_card=session["patron_card"]),
                _("Your hold is cancelled."))


def _switch(field, on, said_on, said_off):
    """Turn one of the patron's own switches on this page on or off."""
    patron = current_patron()
    return _act(lambda: patrons.save(g.ctx, {"id": patron.id, field: on}),
                said_on if on else said_off)


@bp.route("/account/history", methods=["POST"])
@requires("patron")
def history():
    """Turn the reading history on or off; off hides it from this page again."""
    return _switch("keep_history", request.form.get("keep") == "1",
                   _("Reading history is on."), _("Reading history is off."))


@bp.route("/account/suggestions", methods=["POST"])
@requires("patron")
def suggestions():
    """Turn "Gợi ý cho bạn" on or off (off by default: the patron asks for it)."""
    return _switch("suggestions", request.form.get("on") == "1",
                   _("Suggestions for you are on."), _("Suggestions for you are off."))


@bp.route("/account/history/erase", methods=["POST"])
@requires("patron")
def erase_history():
    """Erase: the returned loans are unlinked from the patron, and the history starts
    again from now."""
    patron = current_patron()

    def restart():
        with events.writing(g.ctx):  # all or nothing
            patrons.erase_history(g.ctx, patron.card)
            patrons.save(g.ctx, {"id": patron.id, "keep_history": False})
            patrons.save(g.ctx, {"id": patron.id, "keep_history": True})

    if not patron.keep_history:
        flash(_("Reading history is off: there is nothing to erase."), "info")
        return redirect(url_for("opac.account"))
    return _act(restart, _("Your reading history is erased from your account."))
