"""The projector's handlers for fee events (projector.HANDLERS names them).

Each is deterministic and idempotent and gives the same row whatever order the same
events arrive in: of two charges of one fee (two desks declaring the same loss before
they sync; the fee's id comes from the loan and the kind, so they name one fee) the
earlier by clock stands, and so does the earlier of two settlements. A settlement that
arrives before its charge keeps its place in a row the charge then fills in."""

from ..models import Fee


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


def _settled(state):
    def handler(ev, body):
        fields = {"state": state, "settled_at": body.get("at") or ev.wall,
                  "settled_by": body.get("actor"), "settled_hlc": ev.hlc,
                  "settled_event": ev.id, "reason": body.get("reason")}
        row = Fee.get_or_none(Fee.id == body["fee_id"])
        if row is None:  # its charge is on its way: the charge fills the rest in
            Fee.insert(id=body["fee_id"], library=body["library"],
                       patron=body.get("patron_id") or "", **fields).execute()
        elif not row.settled_hlc or _key(ev.hlc, ev.id) < _key(row.settled_hlc,
                                                                row.settled_event):
            Fee.update(fields).where(Fee.id == body["fee_id"]).execute()
    return handler


HANDLERS = {"fee.charged": charged, "fee.paid": _settled("paid"),
            "fee.waived": _settled("waived")}
