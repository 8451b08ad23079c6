"""Template helpers: Vietnamese dates, labels for codes, the context in templates."""

from datetime import date, datetime

from flask import g
from flask_babel import lazy_gettext as _l

STATUS_LABELS = {
    "available": _l("On the shelf"), "on_loan": _l("On loan"),
    "on_hold_shelf": _l("On the hold shelf"), "in_transit": _l("In transit"),
    "lost": _l("Lost"), "damaged": _l("Damaged"), "withdrawn": _l("Withdrawn"),
    "waiting": _l("Waiting"), "ready": _l("Ready for pickup"), "fulfilled": _l("Fulfilled"),
    "cancelled": _l("Cancelled"), "expired": _l("Expired"), "open": _l("Open"),
    "resolved": _l("Resolved"),
}
CATEGORY_LABELS = {"child": _l("Child"), "pupil": _l("Pupil"), "adult": _l("Adult"),
                   "staff": _l("Staff")}
ITEM_TYPE_LABELS = {"book": _l("Book"), "periodical": _l("Periodical"),
                    "reference": _l("Reference"), "av": _l("Audio-visual"), "map": _l("Map"),
                    "manuscript": _l("Manuscript"), "*": _l("Any")}


def vndate(value):
    """dd/mm/yyyy as Vietnamese readers write dates."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    return value.strftime("%d/%m/%Y")


def vnd(amount):
    return f"{amount:,}".replace(",", ".") + " đ"


def register(app):
    app.jinja_env.filters.update(vndate=vndate, vnd=vnd)

    @app.context_processor
    def _globals():
        ctx = g.get("ctx") or app.extensions["thuvien"]
        return {"ctx": ctx, "status_label": lambda s: STATUS_LABELS.get(s, s),
                "category_label": lambda c: CATEGORY_LABELS.get(c, c),
                "item_type_label": lambda t: ITEM_TYPE_LABELS.get(t, t),
                "clock_ok": ctx.clock.clock_ok(), "clock_ahead": ctx.clock.ahead(),
                "has_endpoint": lambda name: name in app.view_functions}
