"""Who may make fee events (authority.RULES names these).

A fee is charged only by the library whose copy was lost, damaged or returned late (the
one that can mark its copy so, and holds its loan); it is paid or waived only where it
was charged, so a receipt and the till are at one library, and the hub (which acts for
the town) can see every fee but takes no branch's word for another library's money."""

from ..errors import N_


def _own(target, event, device_library):
    from ..authority import mismatch, owned

    refused = owned(target, event, device_library, N_(
        "A device of library %(device)s may not charge, take or waive a fee of library "
        "%(library)s."))
    if refused is None and (event.get("body") or {}).get("library") != target:
        return mismatch(event.get("library"), target)
    return refused


def charged(event, body, device_library, lookup):
    """The copy's library charges for it."""
    item = lookup("item", body.get("item_id"))
    return _own(item["library"] if item else body.get("library"), event, device_library)


def settled(event, body, device_library, lookup):
    """Paid or waived where the fee was charged."""
    fee = lookup("fee", body.get("fee_id"))
    return _own(fee["library"] if fee else body.get("library"), event, device_library)


RULES = {"fee.charged": charged, "fee.paid": settled, "fee.waived": settled}
TARGETS = {"fee.charged": (("item", "item_id"),), "fee.paid": (("fee", "fee_id"),),
           "fee.waived": (("fee", "fee_id"),)}
