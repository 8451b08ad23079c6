"""Who may make stocktake events (authority.RULES names these): a device counts the
shelves of its own library only, whoever's copies it finds there."""

from ..errors import N_


def own_library(event, body, device_library, lookup):
    from ..authority import Reason

    library = body.get("library")
    if library != device_library:
        return Reason("other_library", N_("A device of library %(device)s may not take "
                                          "stock of library %(library)s."),
                      {"device": device_library, "library": library})
    if event.get("library") != library:
        return Reason("library_mismatch", N_("The event says library %(claimed)s but what "
                                             "it changes belongs to library %(library)s."),
                      {"claimed": event.get("library"), "library": library})
    return None


RULES = {"stocktake.started": own_library, "stocktake.seen": own_library,
         "stocktake.finished": own_library}
