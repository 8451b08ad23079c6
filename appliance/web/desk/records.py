"""Records and copies at the desk: a simple cataloguing form, copies, statuses."""

from flask import g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ...core import audit, catalogue
from ...core.catalogue import ITEM_TYPES, STAFF_STATUSES
from ...core.errors import DomainError
from ...core.models import OPEN_HOLDS, Hold, Item, Loan
from ..auth import STAFF, requires
from ..helpers import STATUS_LABELS, vndate
from . import attempt, bp, form


@bp.route("/bibs")
@requires(*STAFF)
def bib_list():
    q = request.args.get("q", "").strip()
    total, found, ranked = catalogue.find_records(g.ctx, q)
    return render_template("desk/bibs.html", bibs=found, total=total, ranked=ranked, q=q)


@bp.route("/bibs/<bib_id>")
@requires(*STAFF)
def bib(bib_id):
    record = catalogue.get_bib(g.ctx, bib_id)
    items = list(Item.select().where(Item.bib == record.id).order_by(Item.library, Item.barcode))
    waiting = list(Hold.select().where((Hold.bib == record.id)
                                       & (Hold.status << OPEN_HOLDS))
                   .order_by(Hold.placed_at))
    audit.seen(g.ctx, session.get("user"), "bib.holds", [h.patron_id for h in waiting])
    return render_template("desk/bib.html", bib=record, items=items, holds=waiting,
                           item_types=ITEM_TYPES, due=due_dates([i.id for i in items]))


def due_dates(item_ids):
    """{item id: due date} of those copies now on loan."""
    if not item_ids:
        return {}
    return dict(Loan.select(Loan.item, Loan.due_date)
                .where((Loan.item << item_ids) & Loan.returned_at.is_null()).tuples())


@bp.route("/bibs/<bib_id>/items", methods=["POST"])
@requires(*STAFF)
def add_item(bib_id):
    data = {"bib": bib_id, "barcode": form("barcode"), "item_type": form("item_type", "book"),
            "location": form("location"), "call_number": form("call_number")}
    attempt(lambda: catalogue.save_item(g.ctx, data),
            lambda item: _("Copy %(barcode)s added.", barcode=item.barcode))
    return redirect(url_for("desk.bib", bib_id=bib_id))


@bp.route("/items", methods=["GET", "POST"])
@requires(*STAFF)
def find_item():
    barcode = form("barcode") or request.args.get("barcode", "").strip()
    return redirect(url_for("desk.item", barcode=barcode)) if barcode else \
        redirect(url_for("desk.home"))


@bp.route("/items/<barcode>")
@requires(*STAFF)
def item(barcode):
    try:
        copy = catalogue.get_item(g.ctx, barcode)
    except DomainError as e:
        return render_template("error.html", message=_("No copy has barcode %(barcode)s.",
                                                       barcode=barcode), status=404,
                               error=e), 404
    loans = list(Loan.select().where(Loan.item == copy.id).order_by(Loan.out_at.desc()).limit(50))
    loans = [loan for loan in loans if loan.returned_at is None or loan.patron.keep_history]
    audit.seen(g.ctx, session.get("user"), "copy.borrower", [loan.patron_id for loan in loans])
    return render_template("desk/item.html", item=copy, loans=loans,
                           changes=[_change_text(c) for c in catalogue.copy_history(copy)],
                           statuses=STAFF_STATUSES)


FIELD_LABELS = {"barcode": _l("Barcode"), "item_type": _l("Type"), "location": _l("Location"),
                "call_number": _l("Call number"), "bib": _l("Record"), "condition": _l("Status"),
                "accession_date": _l("Accession date"), "price": _l("Price")}


def _change_text(change):
    """One line of a copy's history, in the librarian's words."""
    fields = change.get("fields", {})
    if change["kind"] == "hold.trapped":
        text = _("On the hold shelf for %(card)s until %(date)s", card=change["card"] or "—",
                 date=vndate(change["pickup_by"]))
    elif "library" in fields:  # only the event that made the copy names its library
        text = _("Copy added")
    elif set(fields) == {"condition"}:
        text = _("Status set to %(status)s", status=STATUS_LABELS.get(fields["condition"],
                                                                      fields["condition"]))
    else:
        text = _("Changed: %(fields)s",
                 fields=", ".join(str(FIELD_LABELS.get(name, name)) for name in fields))
    return {"at": change["at"], "origin": change["origin"], "text": text}


@bp.route("/items/<barcode>/status", methods=["POST"])
@requires(*STAFF)
def item_status(barcode):
    attempt(lambda: catalogue.set_status(g.ctx, barcode, form("status")), _("Status saved."))
    return redirect(url_for("desk.item", barcode=barcode))
