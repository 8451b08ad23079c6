"""The librarian's desk: circulation, patrons, records and copies, rules, calendar."""

from flask import Blueprint, flash, g, redirect, request

from ...core.errors import DomainError
from .. import i18n

bp = Blueprint("desk", __name__, url_prefix="/desk")


def attempt(action, success=None, back=None):
    """Run a command; flash its result or its refusal in the user's language."""
    try:
        result = action()
    except DomainError as e:
        flash(i18n.translate(e), "error")
        g.refused = e
        return None if back is None else redirect(back)
    if success:
        flash(success(result) if callable(success) else success, "success")
    return result


def back(default):
    """The page to return to: a local path from the form, or the default."""
    target = request.form.get("next") or ""
    return target if target.startswith("/") and not target.startswith("//") else default


def form(name, default=""):
    return (request.form.get(name) or default).strip()


from . import admin, circulation, fees, patrons, records, staff  # noqa: E402,F401  (views register on bp)
