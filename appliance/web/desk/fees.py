"""Fees at the desk: declare a copy on loan lost or damaged, take the payment or waive
a fee (with a reason), print the receipt. An overdue fee is charged by the late return
itself (core/fees/commands.charge_overdue) and settled here like the others. The patron
page shows them (desk/_fees.html)."""

import io

from flask import g, redirect, send_file, url_for
from flask_babel import gettext as _

from ...core import audit, catalogue, fees
from ...core.errors import DomainError
from ...core.fees import commands, receipt, statement
from ..auth import STAFF, identity, requires
from ..helpers import vnd, vndate
from . import attempt, back, bp, form


@bp.app_template_global()
def patron_fees(patron):
    """The patron's fees and what they owe, for the patron page: each fee with the
    library that charged it, the copy, and whether it is settled at this desk (a fee
    another library charged is paid there; the page says so instead of a button)."""
    return statement.of_patron(g.ctx, patron)


def _actor():
    return identity()["username"]


@bp.route("/fees/declare", methods=["POST"])
@requires(*STAFF)
def declare_fee():
    kind = form("kind")
    attempt(lambda: commands.declare(g.ctx, form("barcode"), kind, actor=_actor()),
            lambda f: _("%(amount)s charged for the copy declared %(kind)s.",
                        amount=vnd(f.amount), kind=_(KIND_WORDS[f.kind])))
    card = form("card")
    return redirect(back(url_for("desk.patron", card=card) if card else url_for("desk.home")))


@bp.route("/fees/<fee_id>/pay", methods=["POST"])
@requires(*STAFF)
def pay_fee(fee_id):
    """The whole balance, or the amount typed (a part: the fee stays open for the rest)."""
    typed = form("amount").replace(".", "").replace(" ", "").replace("₫", "")
    owed = {}

    def pay():
        owed["before"] = commands.owing(commands.get(g.ctx, fee_id))
        return commands.pay(g.ctx, fee_id, actor=_actor(), amount=typed or None)

    attempt(pay, lambda fee: _paid_words(fee, owed["before"]))
    return redirect(back(url_for("desk.home")))


def _paid_words(fee, before):
    """What the desk says of a payment: the rest still owed, or (settled) what this
    payment took and the receipt."""
    left = commands.owing(fee)
    if left:
        return _("Payment received; %(balance)s of the fee is still owed.",
                 balance=vnd(left))
    return _("%(amount)s received. Print the receipt.", amount=vnd(before))


@bp.route("/fees/<fee_id>/waive", methods=["POST"])
@requires(*STAFF)
def waive_fee(fee_id):
    attempt(lambda: commands.waive(g.ctx, fee_id, form("reason"), actor=_actor()),
            _("Fee waived."))
    return redirect(back(url_for("desk.home")))


KIND_WORDS = {"lost": "lost", "damaged": "damaged"}  # what staff declare (declare_fee)


@bp.route("/items/<barcode>/price", methods=["POST"])
@requires(*STAFF)
def item_price(barcode):
    """A copy's price, which a borrower who loses or damages it pays (core/fees)."""
    attempt(lambda: catalogue.save_item(g.ctx, {"id": catalogue.get_item(g.ctx, barcode).id,
                                                "price": form("price")}),
            _("Price saved."))
    return redirect(url_for("desk.item", barcode=barcode))


def receipt_words():
    return {"title": _("FEE RECEIPT"), "number": _("Receipt no."), "patron": _("Patron"),
            "copy": _("Copy"), "kind": _("For"), "amount": _("Amount"), "state": _("Fee state"),
            "date": _("Date"), "staff": _("Staff"), "reason": _("Reason"),
            **kind_words(), "paid": _("paid"), "waived": _("waived"),
            "open": _("not paid yet")}


@bp.app_template_global()
def kind_words():
    """What each kind of fee is for, as the patron page and the receipt word it."""
    return {kind: _(words) for kind, words in fees.KINDS.items()}


@bp.route("/fees/<fee_id>/receipt.pdf")
@requires(*STAFF)
def fee_receipt(fee_id):
    try:
        fee = commands.get(g.ctx, fee_id)
    except DomainError:
        return _("No such fee."), 404
    audit.log(g.ctx, _actor(), "fee.receipt", fee.patron, fee.id)
    out = io.BytesIO()
    receipt.write_pdf(fee, receipt_words(), out, when=vndate)
    out.seek(0)
    return send_file(out, mimetype="application/pdf", as_attachment=False,
                     download_name=f"bien-lai-{fee.id[:8]}.pdf")


