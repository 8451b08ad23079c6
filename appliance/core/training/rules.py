"""Who may make training events (authority.RULES names these): a device records the
training of its own library's staff only. The hub's admins enter courses for any
library (the hub checks branches, not itself)."""

from ..errors import N_


def own_staff(event, body, device_library, lookup):
    from ..authority import Reason, owned

    refused = owned(body.get("library"), event, device_library, N_(
        "A device of library %(device)s may not record the training of library "
        "%(library)s's staff."))
    if refused:
        return refused
    if not isinstance(body.get("staff"), (str, list)):
        return Reason("no_staff", N_("A training record names no staff account."), {})
    return None


def practice_only(event, body, device_library, lookup):
    from ..authority import Reason

    return Reason("practice_only", N_("A practice step never leaves its practice copy."), {})


RULES = {"training.step": practice_only, "training.staff": own_staff, "training.exercise": own_staff,
         "training.course": own_staff}
