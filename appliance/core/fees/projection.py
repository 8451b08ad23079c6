"""The projector's handlers for fee events (projector.HANDLERS names them).

Each is deterministic and idempotent and gives the same rows whatever order the same
events arrive in: of two charges of one fee (two desks declaring the same loss before
they sync; the fee's id comes from the loan and the kind, so they name one fee) the
earlier by clock stands.

A payment or a waiver may be of part of a fee, and two desks may each take part of one
fee apart, so every `fee.paid` and `fee.waived` is a FeePayment row of its own, and the
fee's state is reckoned from all its rows each time one arrives: the fee is settled by
the row, in clock order, that brings what was paid and waived up to its amount (so of
two full settlements the earlier stands; the later one's row stays, and shows the fee
paid above its amount). A payment that arrives before its charge keeps its place in a
fee row the charge then fills in (its charged_hlc is 0 until then, as every reading of
fees knows), and the charge reckons the fee."""

from ..models import Fee, FeePayment

PAYMENT, WAIVER = "payment", "waiver"


def _key(hlc, event_id):
    return (hlc, event_id or "")


def charged(ev, body):
    fields = {"library": body["library"], "patron": body["patron_id"],
              "item": body.get("item_id"), "loan": body.get("loan_id"),
              "kind": body.get("kind") or "", "amount": int(body.get("amount") or 0),
              "charged_at": body.get("at") or ev.wall, "charged_by": body.get("actor"),
              "charged_hlc": ev.hlc, "charged_event": ev.id}
    row = Fee.get_or_none(Fee.id == body["fee_id"])
    if row is None:
        Fee.insert(id=body["fee_id"], **fields).execute()
    elif not row.charged_hlc or _key(ev.hlc, ev.id) < _key(row.charged_hlc, row.charged_event):
        Fee.update(fields).where(Fee.id == body["fee_id"]).execute()
    reckon(body["fee_id"])


def _taken(kind):
    def handler(ev, body):
        if Fee.get_or_none(Fee.id == body["fee_id"]) is None:  # its charge is on its way
            Fee.insert(id=body["fee_id"], library=body["library"],
                       patron=body.get("patron_id") or "").execute()
        # (an event applied again, by a rebuild or a repeated sync, is the same row)
        FeePayment.insert(
            id=ev.id, fee=body["fee_id"], kind=kind, amount=int(body.get("amount") or 0),
            at=body.get("at") or ev.wall, hlc=ev.hlc,
            library=body.get("taken_at_library") or body["library"], actor=body.get("actor"),
            transaction=(body.get("transaction") or "")[:64] or None,
            reason=body.get("reason") if kind == WAIVER else None,
        ).on_conflict_ignore().execute()
        reckon(body["fee_id"])
    return handler


OPEN_FIELDS = {"state": "open", "settled_at": None, "settled_by": None, "settled_hlc": 0,
               "settled_event": "", "reason": None}


def reckon(fee_id):
    """The fee's state from its payments and waivers: settled by the one that brings
    their sum, in clock order, up to its amount; open, with nothing settled, before
    that. A fee whose charge has not arrived has no amount yet, and waits for it."""
    fee = Fee.get_or_none(Fee.id == fee_id)
    if fee is None or not fee.charged_hlc:
        return
    fields = OPEN_FIELDS
    total = 0
    for taken in FeePayment.select().where(FeePayment.fee == fee_id).order_by(
            FeePayment.hlc, FeePayment.id):
        total += taken.amount
        if total >= fee.amount:
            fields = {"state": "paid" if taken.kind == PAYMENT else "waived",
                      "settled_at": taken.at, "settled_by": taken.actor,
                      "settled_hlc": taken.hlc, "settled_event": taken.id,
                      "reason": taken.reason}
            break
    Fee.update(fields).where(Fee.id == fee_id).execute()


HANDLERS = {"fee.charged": charged, "fee.paid": _taken(PAYMENT),
            "fee.waived": _taken(WAIVER)}
