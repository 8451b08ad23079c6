"""Who may make stocktake events (authority.RULES names these): a device counts the
shelves of its own library only, whoever's copies it finds there."""

from ..errors import N_


def own_library(event, body, device_library, lookup):
    from ..authority import owned

    return owned(body.get("library"), event, device_library, N_(
        "A device of library %(device)s may not take stock of library %(library)s."))


RULES = {"stocktake.started": own_library, "stocktake.seen": own_library,
         "stocktake.finished": own_library}
