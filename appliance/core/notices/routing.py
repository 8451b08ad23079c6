"""Where a notice may be e-mailed. A child's notices go to the guardian's address and
never to the child's own; with no usable address the notice is a printed slip only.

A child is a patron of the category "child", or one younger than the library's child
age (16 unless the library set another, core/roster/rules.py) by the date of birth, or
by the year of birth when only that is known: a patron who may still be under that age
in that year counts as a child, so doubt never sends to a child."""

import re
from dataclasses import dataclass
from datetime import date

from ..roster import rules

# One @, no spaces, a dot in the domain: enough to refuse a typo, not a full RFC 5322.
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def usable(address):
    """An address mail can go to: ASCII too, as every server takes it (smtplib sends an
    address with marks only to a server that says SMTPUTF8)."""
    return bool(address) and address.isascii() and bool(ADDRESS.match(address.strip()))


def is_child(patron, today, child_age=None):
    if patron.category == "child":
        return True
    age = rules.of(patron.library)[1] if child_age is None else child_age
    if patron.birth_date:
        try:
            return rules.age_on(date.fromisoformat(patron.birth_date), today) < age
        except ValueError:
            pass
    if patron.birth_year:
        return today.year - int(patron.birth_year) <= age  # the birthday may be to come
    return False


@dataclass
class Route:
    address: str | None  # None: a slip only
    to_name: str  # whom the words greet: the guardian for a child
    guardian: bool  # addressed to a child's guardian
    why: str  # own, guardian, no_address, no_guardian_address


def route(patron, today, child_age=None):
    if is_child(patron, today, child_age):
        name = patron.guardian or patron.name
        if usable(patron.guardian_email):
            return Route(patron.guardian_email.strip(), name, True, "guardian")
        return Route(None, name, True, "no_guardian_address")
    if usable(patron.email):
        return Route(patron.email.strip(), patron.name, False, "own")
    return Route(None, patron.name, False, "no_address")
