"""Small numbers withheld: a figure over fewer than five people could point at one of
them, so those who may not see patrons' data (report_viewer) see "< 5" instead."""

import copy

THRESHOLD = 5
WITHHELD = "< 5"

# The figures that count people (the rest count copies, loans or days).
PEOPLE = ("visits", "cards", "patrons_registered", "patrons_active")


def _hide(value):
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < THRESHOLD:
        return WITHHELD
    if isinstance(value, dict):
        return {k: _hide(v) for k, v in value.items()}
    return value


def figures(data):
    """A copy of one library's figures with the people-counts under five withheld."""
    out = copy.deepcopy(data)
    for name in PEOPLE:
        if name in out:
            out[name] = _hide(out[name])
    return out
