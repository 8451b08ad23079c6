"""The projector's handlers for fee events (projector.HANDLERS names them).

Each is deterministic and idempotent and gives the same row whatever order the same
events arrive in: of two charges of one fee (two desks declaring the same loss before
they sync; the fee's id comes from the loan and the kind, so they name one fee) the
earlier by clock stands.

A payment or a waiver may be of part of a fee, and two desks may each take part of one
fee apart, so every `fee.paid` and `fee.waived` is kept as a row of its own (a part,
below) and the fee's state is reckoned from all its parts each time one arrives: the
fee is settled by the part, in clock order, that brings what was paid and waived up to
its amount (so of two full settlements the earlier stands, as before). A part that
arrives before its charge waits; the charge reckons the fee when it comes.

The parts live in the fee table, as rows that are never a fee: their `charged_hlc` is
0, which every reading of fees already leaves out (it was the mark of a settlement
whose charge had not arrived), `state` says "payment" or "waiver", `loan` holds the id
of the fee they settle, `reason` the waiver's reason or the paying machine's own
transaction id (SIP2 BK), and the settled_* columns the event's clock, id, time and
actor. So partial payments need no new table."""

from ..models import Fee

PAYMENT, WAIVER = "payment", "waiver"
PARTS = (PAYMENT, WAIVER)


def _key(hlc, event_id):
    return (hlc, event_id or "")


def is_part():
    """The rows that are parts of a fee, not fees."""
    return Fee.state << PARTS


def part_of(fee_id):
    return is_part() & (Fee.loan == fee_id)


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


def _part(state):
    def handler(ev, body):
        if Fee.get_or_none(Fee.id == ev.id) is None:
            extra = body.get("transaction") if state == PAYMENT else body.get("reason")
            Fee.insert(id=ev.id, library=body["library"], patron=body.get("patron_id") or "",
                       loan=body["fee_id"], amount=int(body.get("amount") or 0),
                       charged_at=body.get("at") or ev.wall, charged_by=body.get("actor"),
                       state=state, settled_at=body.get("at") or ev.wall,
                       settled_by=body.get("actor"), settled_hlc=ev.hlc, settled_event=ev.id,
                       reason=extra).execute()
        reckon(body["fee_id"])
    return handler


OPEN_FIELDS = {"state": "open", "settled_at": None, "settled_by": None, "settled_hlc": 0,
               "settled_event": "", "reason": None}


def reckon(fee_id):
    """The fee's state from its parts: settled by the part that brings the sum of its
    parts, in clock order, up to its amount; open, with nothing settled, before that."""
    fee = Fee.get_or_none((Fee.id == fee_id) & (Fee.charged_hlc > 0))
    if fee is None:
        return
    parts = sorted(Fee.select().where(part_of(fee_id)),
                   key=lambda p: _key(p.settled_hlc, p.settled_event))
    if not parts and fee.state != "open":
        return  # settled in full before parts were kept: its settlement stands
    fields = OPEN_FIELDS
    total = 0
    for part in parts:
        total += part.amount
        if total >= fee.amount:
            fields = {"state": "paid" if part.state == PAYMENT else "waived",
                      "settled_at": part.settled_at, "settled_by": part.settled_by,
                      "settled_hlc": part.settled_hlc, "settled_event": part.settled_event,
                      "reason": part.reason if part.state == WAIVER else None}
            break
    Fee.update(fields).where(Fee.id == fee_id).execute()


HANDLERS = {"fee.charged": charged, "fee.paid": _part(PAYMENT),
            "fee.waived": _part(WAIVER)}
