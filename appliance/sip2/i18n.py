"""Screen messages for SIP2 terminals, Vietnamese first, without Flask.

Reads the same .po catalogues the web layer uses (every file in
translations/vi/LC_MESSAGES), once, on first use.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

log = logging.getLogger(__name__)

PO_DIR = Path(__file__).resolve().parent.parent / "translations" / "vi" / "LC_MESSAGES"
# SIP2 language codes that mean English (001 English, 024 United Kingdom).
ENGLISH_CODES = {"001", "024"}

_catalogue: dict[str, str] | None = None
_lock = threading.Lock()


def _load() -> dict[str, str]:
    from babel.messages.pofile import read_po

    out: dict[str, str] = {}
    for path in sorted(PO_DIR.glob("*.po")):
        try:
            with open(path, "rb") as f:
                for msg in read_po(f):
                    if msg.id and isinstance(msg.id, str) and msg.string:
                        out[msg.id] = msg.string
        except Exception:  # noqa: BLE001 - one broken catalogue must not silence the others
            log.exception("sip2: cannot read %s", path)
    return out


def catalogue() -> dict[str, str]:
    global _catalogue
    if _catalogue is None:
        with _lock:
            if _catalogue is None:
                _catalogue = _load()
    return _catalogue


def english(language: str) -> bool:
    return language in ENGLISH_CODES


def translate(msgid: str, language: str = "000", **params) -> str:
    """The message in Vietnamese unless the terminal asked for English."""
    text = msgid if english(language) else catalogue().get(msgid, msgid)
    try:
        return text % params if params else text
    except (KeyError, ValueError, TypeError):
        return msgid % params if params else msgid
