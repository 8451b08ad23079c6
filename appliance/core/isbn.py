"""ISBNs: checked, and turned from ISBN-10 to ISBN-13 and back.

A record holds its ISBN as catalogued, without hyphens (`catalogue.normalise_isbn`);
a reader may type it with hyphens or spaces, or copy the other form from an old book
or a shop's site. Both forms name the same book (a 978 ISBN-13 is its ISBN-10 with
the prefix and a new check digit; 979 ones have no ISBN-10).
"""

import re

_TEN = re.compile(r"\d{9}[\dX]")
_THIRTEEN = re.compile(r"\d{13}")


def compact(text):
    """Upper case, hyphens and spaces dropped (not checked)."""
    return re.sub(r"[\s-]", "", text or "").upper()


def _check10(first9):
    digit = (11 - sum((10 - i) * int(c) for i, c in enumerate(first9)) % 11) % 11
    return "X" if digit == 10 else str(digit)


def _check13(first12):
    return str((10 - sum(int(c) * (1 if i % 2 == 0 else 3)
                         for i, c in enumerate(first12)) % 10) % 10)


def valid(isbn):
    """True for a compact ISBN-10 or ISBN-13 whose check digit is right."""
    if _TEN.fullmatch(isbn):
        return _check10(isbn[:9]) == isbn[9]
    if _THIRTEEN.fullmatch(isbn):
        return _check13(isbn[:12]) == isbn[12]
    return False


def other_form(isbn):
    """The ISBN-13 of a valid ISBN-10, the ISBN-10 of a valid 978 ISBN-13, else None."""
    if not valid(isbn):
        return None
    if len(isbn) == 10:
        return "978" + isbn[:9] + _check13("978" + isbn[:9])
    if isbn.startswith("978"):
        return isbn[3:12] + _check10(isbn[3:12])
    return None
