"""Screen messages for SIP2 terminals, Vietnamese first, without Flask.

Reads the same compiled catalogue the web layer uses (appliance.l10n), once, on
first use: a wheel carries it compiled and no .po files.
"""

from __future__ import annotations

import logging
import threading

from .. import l10n

log = logging.getLogger(__name__)

# SIP2 language codes that mean English (001 English, 024 United Kingdom).
ENGLISH_CODES = {"001", "024"}

_catalogue: dict[str, str] | None = None
_lock = threading.Lock()


def _load() -> dict[str, str]:
    try:
        return l10n.messages("vi")
    except Exception:  # noqa: BLE001 - an unreadable catalogue leaves SIP2 in English
        log.exception("sip2: cannot read the Vietnamese catalogue")
        return {}


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
