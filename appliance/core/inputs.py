"""Numbers people and programs send, checked before anything uses them.

One rule for every whole number a request carries (a page, a year, a count): ASCII
digits only and within a range, or a clear refusal. `str.isdigit` is not that check:
it accepts "²" and "١", which `int` then refuses, and it accepts 25 digits, which a
database cannot hold; both ended in a 500 before.
"""

from .errors import N_, Invalid

_MESSAGE = N_("%(field)s must be a whole number from %(low)s to %(high)s.")


def whole_number(value, field, low, high):
    """`value` (text, or an int from JSON) as an int from `low` to `high`, else Invalid."""
    if isinstance(value, bool):  # JSON's true is an int to Python, not a number to people
        number = None
    elif isinstance(value, int):
        number = value
    else:
        text = str(value if value is not None else "").strip()
        ok = text.isascii() and text.isdigit() and len(text) <= len(str(high))
        number = int(text) if ok else None
    if number is None or not low <= number <= high:
        raise Invalid("bad_number", _MESSAGE, field=field, low=low, high=high)
    return number


def optional_number(value, field, low, high):
    """As `whole_number`, but empty (None or blank text) is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return whole_number(value, field, low, high)
