"""Who may make the rights events (authority.RULES names these): only the patron's home
library keys, erases or unlinks a card; a look is logged by the library where it was
taken."""

from ..errors import N_


def home_library(event, body, device_library, lookup):
    from ..authority import _own

    row = lookup("patron", body.get("patron_id"))
    return _own("patron", row["library"] if row else event.get("library"), event,
                device_library)


def here(event, body, device_library, lookup):
    from ..authority import Reason

    if body.get("library") != device_library or event.get("library") != device_library:
        return Reason("other_library", N_("A device of library %(device)s logs only what "
                                          "was seen there."),
                      {"device": device_library})
    return None


RULES = {"patron.key": home_library, "patron.erased": home_library,
         "patron.history_erased": home_library, "audit.viewed": here}
TARGETS = {"patron.key": (("patron", "patron_id"),),
           "patron.erased": (("patron", "patron_id"),)}
