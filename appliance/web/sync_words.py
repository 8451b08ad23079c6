"""The desk's sync banner in the librarian's words: what went wrong and what to do.

The agent keeps its last error as "code: detail", the detail in English for the
console and the logs. The banner says the same in the page's language, by the code;
the detail stays one click away for whoever at the town library looks into it."""

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

CALL_TOWN = _l("If it keeps happening, call the town library.")

BY_CODE = {
    "unreachable": _l("The town hub could not be reached: check the network link. Changes "
                      "are kept here and sent at the next sync."),
    "deadline": _l("The last sync stopped at its time limit. What was sent is kept; the "
                   "next sync goes on from there."),
    "too_many_rounds": _l("The last sync did not finish. The next sync goes on from there."),
    "untrusted_hub": _l("The hub answering is not the town's (its certificate is unknown). "
                        "Do not sync; call the town library."),
    "unknown_device": _l("The town hub does not know this device: ask the town library for "
                         "a new enrolment token."),
    "revoked_device": _l("The town hub has revoked this device: ask the town library for a "
                         "new enrolment token."),
    "not_enrolled": _l("This device is not yet enrolled: ask the town library for an "
                       "enrolment token."),
    "future": _l("The town hub refused changes stamped in the future: set this device's "
                 "clock, then sync again."),
    "retired_key": _l("The town hub refused this device's key: call the town library."),
    "bad_rotation": _l("The town hub refused this device's key: call the town library."),
}


def error_code(last_error):
    return (last_error or "").split(":", 1)[0].strip()


def explain(last_error):
    """The last sync error as a sentence in the page's language."""
    code = error_code(last_error)
    if code in BY_CODE:
        return str(BY_CODE[code])
    return gettext("The last sync did not succeed (%(code)s).", code=code or "?") + " " + \
        str(CALL_TOWN)
