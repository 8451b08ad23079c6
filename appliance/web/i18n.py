"""Vietnamese first. Each area keeps its own .po file; they are merged and compiled
into one catalogue at start, so nobody edits a shared file to add a message."""

import functools
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import request, session

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}
SOURCE = Path(__file__).resolve().parent.parent / "translations"


def select_locale():
    """The language chosen on the page; for programs, their Accept-Language; else Vietnamese."""
    lang = request.args.get("lang") or session.get("lang")
    if lang not in LANGUAGES and request.path.startswith("/api/"):
        lang = request.accept_languages.best_match(LANGUAGES)
    return lang if lang in LANGUAGES else "vi"


@functools.lru_cache(maxsize=1)
def compiled_dir():
    """Compile every .po under translations/<lang>/LC_MESSAGES into messages.mo."""
    out = Path(tempfile.mkdtemp(prefix="thuvien-i18n-"))
    for lang_dir in (d for d in SOURCE.iterdir() if d.is_dir()) if SOURCE.exists() else ():
        merged = Catalog(locale=lang_dir.name)
        for po in sorted((lang_dir / "LC_MESSAGES").glob("*.po")):
            with open(po, "rb") as f:
                for message in read_po(f, locale=lang_dir.name):
                    if message.id and message.string:
                        merged.add(message.id, message.string)
        target = out / lang_dir.name / "LC_MESSAGES"
        target.mkdir(parents=True)
        with open(target / "messages.mo", "wb") as f:
            write_mo(f, merged)
    return str(out)


def translate(error):
    """A DomainError's message in the request's language."""
    from flask_babel import gettext

    return gettext(error.message, **error.params)
