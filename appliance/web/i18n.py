"""Vietnamese first: the language of a request, and a DomainError's message in it.
The catalogues themselves are found (or compiled) by appliance.l10n."""

from flask import request, session

from ..l10n import compiled_dir  # noqa: F401  (create_app reads it from here)

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}


def select_locale():
    """The language chosen on the page; for programs, their Accept-Language; else Vietnamese."""
    lang = request.args.get("lang") or session.get("lang")
    if lang not in LANGUAGES and request.path.startswith("/api/"):
        lang = request.accept_languages.best_match(LANGUAGES)
    return lang if lang in LANGUAGES else "vi"


def translate(error):
    """A DomainError's message in the request's language."""
    from flask_babel import gettext

    return gettext(error.message, **error.params)
