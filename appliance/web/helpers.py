"""Template helpers: Vietnamese dates, labels for codes, the context in templates."""

from zoneinfo import ZoneInfo

from flask import g, has_app_context
from flask.json.provider import DefaultJSONProvider
from flask_babel import lazy_gettext as _l

from ..core.clock import LIBRARY_TZ, written
from ..core.models import Library
from . import sync_words

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


def libraries():
    """{code: Library} of the town, read once per request (pages name libraries often)."""
    if not has_app_context():
        return {lib.code: lib for lib in Library.select()}
    if "libraries" not in g:
        g.libraries = {lib.code: lib for lib in Library.select()}
    return g.libraries


def library_name(code):
    """A library's name as people know it; its code when the town has not told us."""
    lib = libraries().get(code)
    return lib.name if lib is not None and lib.name else code


def local_zone():
    """This library's time zone: every time a page shows is a time on its wall clock."""
    ctx = g.get("ctx") if has_app_context() else None
    lib = libraries().get(ctx.library) if ctx is not None else None
    try:
        return ZoneInfo(lib.timezone) if lib is not None and lib.timezone else LIBRARY_TZ
    except (KeyError, ValueError):
        return LIBRARY_TZ


def vndate(value):
    """dd/mm/yyyy (and HH:MM) in this library's time zone (core/clock.written)."""
    return written(value, local_zone())


def vnd(amount):
    """150.000 ₫: the one way amounts are written (core/fees.vnd)."""
    from ..core.fees import vnd as written

    return written(amount)


def register(app):
    app.json = JSONProvider(app)
    app.jinja_env.filters.update(vndate=vndate, vnd=vnd)

    @app.context_processor
    def _globals():
        ctx = g.get("ctx") or app.extensions["thuvien"]
        return {"ctx": ctx, "status_label": lambda s: STATUS_LABELS.get(s, s),
                "category_label": lambda c: CATEGORY_LABELS.get(c, c),
                "item_type_label": lambda t: ITEM_TYPE_LABELS.get(t, t),
                "library_name": library_name, "sync_error_text": sync_words.explain,
                "clock_ok": ctx.clock.clock_ok(), "clock_ahead": ctx.clock.ahead(),
                "has_endpoint": lambda name: name in app.view_functions}


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, where a body nested too deep for the parser (a thousand brackets)
    is bad JSON, a 400 like any other, not a RecursionError and a 500."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
