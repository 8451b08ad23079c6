"""Who may make request events (authority.RULES names these): the one library that
handles a request makes every step of it, and a request sent by post is the patron's
home library's, so the address stays where the patron's data is kept. One step is
shared: the patron's home library records that the patron downloaded a copy another
library handles (its PDF comes home, sync/files.py), so every node sees it delivered."""

from ..errors import N_
from . import states

TARGETS = {kind: (("request", "request_id"), ("patron", "patron_id"))
           for kind in states.EVENT_STATE}


def _reason(code, message, **params):
    from ..authority import Reason

    return Reason(code, message, params)


def handler_only(event, body, device_library, lookup):
    row = lookup("request", body.get("request_id"))
    if event.get("kind") == "request.placed":
        library = body.get("library")
        patron = lookup("patron", body.get("patron_id"))
        if body.get("kind") == "postal_loan" and (patron is None
                                                  or patron["library"] != library):
            return _reason("postal_not_home", N_(
                "A loan by post is handled by the patron's home library, which keeps the "
                "address."))
    elif row is None:
        return _reason("unknown_request", N_("No request %(id)s is held here."),
                       id=body.get("request_id"))
    else:
        library = row["library"]
    from ..authority import mismatch, owned

    if row is not None and _downloaded_at_home(event, body, device_library, row, lookup):
        same = event.get("library") == library == body.get("library")
        return None if same else mismatch(event.get("library"), library)

    refused = owned(library, event, device_library, N_(
        "A device of library %(device)s may not handle a request of library %(library)s."))
    if refused is None and body.get("library") != library:
        return mismatch(event.get("library"), library)
    return refused


RULES = dict.fromkeys(states.EVENT_STATE, handler_only)


def _downloaded_at_home(event, body, device_library, row, lookup):
    """A download recorded by the requesting patron's home library: the request's own
    patron (as the hub holds the request, not as the sender says), a card of the
    device's library."""
    if event.get("kind") != "request.delivered" or not row.get("patron") \
            or row.get("patron") != body.get("patron_id"):
        return False
    patron = lookup("patron", row["patron"])
    return patron is not None and patron["library"] == device_library
