"""Kiosk pages. Every form posts, then redirects to a page that shows the outcome
(the script swaps the page in place, so the device event stream stays open)."""

from flask import g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ... import devices_client
from ...core import catalogue, circulation, patrons, townwide
from ...core.errors import DomainError
from ...core.models import Loan
from .. import i18n, reports
from ..auth import guarded_sign_in, requires
from ..helpers import vndate
from . import actions, bp, state

KIOSK = ("kiosk",)


@bp.before_request
def _idle():
    state.touch()


def _actor():
    return f"kiosk:{session.get('user')}"


def _page(template, mode, **values):
    results, outcome = state.pop_results()
    return render_template(template, mode=mode, results=results, outcome=outcome,
                           idle=state.idle_seconds(), **values)


@bp.route("/")
@requires(*KIOSK)
def start():
    if state.patron_card():
        return _session_page()
    if session.get("kiosk_pending"):
        return _page("kiosk/pin.html", "pin")
    return _page("kiosk/start.html", "start")


def _session_page():
    card = state.patron_card()
    try:
        patron = patrons.find(g.ctx, card)
    except DomainError:
        state.clear()
        return redirect(url_for("kiosk.start"))
    loans = [{"barcode": ln.item.barcode, "title": ln.item.bib.title, "due": ln.due_date,
              "overdue": ln.due_date < g.ctx.clock.today().isoformat(),
              "renewable": circulation.renewals_left(ln, patron.category,
                                                     ln.item.item_type) > 0}
             for ln in patrons.open_loans(patron)]
    reasons = [i18n.translate(DomainError(c, m, **p)) for c, m, p in patrons.blocks(g.ctx, patron)]
    return _page("kiosk/session.html", "session", patron=patron, loans=loans, blocks=reasons)


@bp.route("/identify", methods=["POST"])
@requires(*KIOSK)
def identify():
    card = (request.form.get("card") or "").strip()
    if not card:
        state.set_results([actions._refused("", _("Scan your library card."))])
        return redirect(url_for("kiosk.start"))
    try:
        patron = patrons.find(g.ctx, card)
    except DomainError:
        state.set_results([actions._refused("", _("This card is not known here. Please ask "
                                                  "the librarian."))])
        return redirect(url_for("kiosk.start"))
    if g.ctx.settings.get("kiosk_pin_required", True):  # off only when a library says so
        session["kiosk_pending"] = patron.card
        return redirect(url_for("kiosk.start"))
    try:
        town = townwide.verify(g.ctx, patron) if townwide.away(g.ctx, patron) else None
    except DomainError as e:
        state.set_results([actions._refused("", i18n.translate(e))])
        return redirect(url_for("kiosk.start"))
    _welcome(patron, town)
    return redirect(url_for("kiosk.start"))


def _welcome(patron, town):
    """Greet the reader; a card of another library checked on its own is told why it may
    borrow fewer items here now."""
    state.identify(patron, town)
    reports.visit(patron=patron)  # the day's visit, counted once
    results = [{"ok": True, "barcode": "", "title": "",
                "message": _("Hello, %(name)s!", name=patron.name)}]
    notice = townwide.offline_notice(g.ctx, patron, town or {})
    if notice is not None:
        results.append({"ok": True, "barcode": "", "title": "", "notice": True,
                        "message": i18n.translate(DomainError("away_offline_limit", notice[0],
                                                              **notice[1]))})
    state.set_results(results)


@bp.route("/pin", methods=["POST"])
@requires(*KIOSK)
def pin():
    card = session.get("kiosk_pending")
    if not card:
        return redirect(url_for("kiosk.start"))
    try:  # a card of another library: its PIN is checked at the hub
        patron, town = guarded_sign_in(townwide.sign_in, g.ctx, card,
                                       request.form.get("pin", ""))
    except DomainError as e:
        if e.code != "pin_wrong":
            session.pop("kiosk_pending", None)  # locked out or gone: back to the start
        state.set_results([actions._refused("", i18n.translate(e))])
        return redirect(url_for("kiosk.start"))
    _welcome(patron, town)
    return redirect(url_for("kiosk.start"))


@bp.route("/checkout", methods=["POST"])
@requires(*KIOSK)
def checkout():
    card = state.patron_card()
    if not card:
        return redirect(url_for("kiosk.start"))
    items = actions.items_from_form()
    results = actions.checkout_many(card, items, _actor(), state.town())
    for r in results:
        if r["ok"]:
            state.log_transaction("out", r["barcode"], r["due"])
    state.set_results(results or [actions._refused("", _("Scan an item or lay it on the "
                                                         "pad."))])
    return redirect(url_for("kiosk.start"))


@bp.route("/returns")
@requires(*KIOSK)
def returns():
    return _page("kiosk/returns.html", "returns")


@bp.route("/checkin", methods=["POST"])
@requires(*KIOSK)
def checkin():
    results = actions.checkin_many(actions.items_from_form(), _actor())
    for r in results:
        if r["ok"] and r.get("returned"):
            state.log_transaction("in", r["barcode"])
    state.set_results(results or [actions._refused("", _("Scan an item or lay it on the "
                                                         "pad."))])
    # return mode stays until the patron leaves it: the next scan is another return,
    # never a loan of the copy just brought back
    return redirect(url_for("kiosk.returns"))


@bp.route("/renew", methods=["POST"])
@requires(*KIOSK)
def renew():
    card = state.patron_card()
    if not card:
        return redirect(url_for("kiosk.start"))
    barcodes = request.form.getlist("barcode")
    if request.form.get("all"):
        barcodes = [ln.item.barcode for ln in patrons.open_loans(patrons.find(g.ctx, card))]
    results = [actions.renew_one(card, b.strip(), _actor()) for b in barcodes if b.strip()]
    for r in results:
        if r["ok"]:
            state.log_transaction("renew", r["barcode"], r["due"])
    state.set_results(results)
    return redirect(url_for("kiosk.start"))


def _receipt_lines():
    labels = {"out": _("Borrowed"), "in": _("Returned"), "renew": _("Renewed")}
    lines = []
    for entry in session.get("kiosk_log", []):
        try:
            title = catalogue.get_item(g.ctx, entry["b"]).bib.title
        except DomainError:
            title = entry["b"]
        line = f"{labels[entry['k']]}: {title} ({entry['b']})"
        if entry.get("d"):
            line += " — " + _("due %(date)s", date=vndate(entry["d"]))
        lines.append(line)
    return lines


def _suggestion_line():
    """One line on the receipt: a title borrowed with what was just borrowed
    (core/suggest), for the patron's audience (children's loans for a child)."""
    from appliance.core.suggest import store

    card = state.patron_card()
    borrowed = [e["b"] for e in session.get("kiosk_log", []) if e.get("k") == "out"]
    if not card or not borrowed:
        return None
    try:
        patron = patrons.find(g.ctx, card)
        bibs = [catalogue.get_item(g.ctx, b).bib_id for b in borrowed]
    except DomainError:
        return None
    for bib_id in bibs:
        for other in store.related(bib_id, store.audience_of(patron), limit=len(bibs) + 1):
            if other["bib_id"] not in bibs:
                return _("You may also like: %(title)s", title=other["title"])
    return None


def _still_on_loan():
    card = state.patron_card()
    if not card:
        return []
    patron = patrons.find(g.ctx, card)
    return [_("%(title)s — due %(date)s", title=ln.item.bib.title, date=vndate(ln.due_date))
            for ln in Loan.select().where((Loan.patron == patron.id)
                                          & Loan.returned_at.is_null()).order_by(Loan.due_date)]


@bp.route("/receipt")
@requires(*KIOSK)
def receipt():
    return _page("kiosk/receipt.html", "receipt", lines=_receipt_lines(),
                 suggestion=_suggestion_line(),
                 on_loan=_still_on_loan(), name=session.get("kiosk_name"),
                 when=vndate(g.ctx.clock.iso_now()[:19]))


@bp.route("/print", methods=["POST"])
@requires(*KIOSK)
def print_receipt():
    lines = _receipt_lines() + [""] + [_("Still on loan:")] + _still_on_loan()
    suggestion = _suggestion_line()
    if suggestion:
        lines += ["", suggestion]
    title = g.ctx.settings.get("library_name", g.ctx.library)
    ok = devices_client.print_receipt(g.ctx, title, lines, _("Thank you for reading!"))
    state.set_results([{"ok": True, "barcode": "", "title": "",
                        "message": _("Your receipt is printing.")}] if ok else
                      [actions._refused("", _("The printer is not available; your receipt "
                                              "is on the screen."))])
    return redirect(url_for("kiosk.receipt"))


@bp.route("/end", methods=["POST"])
@requires(*KIOSK)
def end():
    state.clear()
    return redirect(url_for("kiosk.start"))
