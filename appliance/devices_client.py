"""The appliance's client for the devices daemon's command API (loopback, port 6002).

Everything here fails soft: a missing, slow or broken daemon is logged and
reported as False, and never stops a loan or a return. The loan is the fact;
the tag's AFI and the paper receipt are conveniences around it.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:6002"
TIMEOUT = (0.5, 2.0)  # connect, read: a kiosk must not hang on a dead printer
AFI_ON_LOAN = 0xC2
AFI_ON_SHELF = 0x07


def _base(ctx) -> str:
    return (getattr(ctx, "settings", {}) or {}).get("devices_url", DEFAULT_URL).rstrip("/")


def _post(ctx, path, body) -> dict | None:
    if getattr(ctx, "practice", False):  # a practice copy (core/training): no paper, no tags
        log.info("practice mode: %s not sent to the devices daemon", path)
        return None
    # requests (5 MB with urllib3 and its character tables) is imported when a request is
    # sent, not with the web server that imports this module
    import requests

    url = _base(ctx) + path
    try:
        response = requests.post(url, json=body, timeout=TIMEOUT)
    except requests.RequestException as exc:
        log.warning("devices daemon unreachable at %s: %s", url, exc)
        return None
    if response.status_code >= 400:
        log.warning("devices daemon refused %s: %s %s", path, response.status_code,
                    response.text[:200])
        return None
    try:
        return response.json()
    except ValueError:
        return {}


def set_afi(ctx, uid: str, afi: int) -> bool:
    """Set a tag's AFI (0xC2 on loan, 0x07 on the shelf). True when the daemon did it."""
    if not uid:
        return False
    return _post(ctx, "/rfid/afi", {"uid": uid, "afi": int(afi)}) is not None


def print_receipt(ctx, title: str, lines: list[str], footer: str = "") -> bool:
    """Print a receipt; False when there is no printer to print on."""
    return _post(ctx, "/print", {"title": title, "lines": list(lines), "footer": footer}) \
        is not None


def status(ctx) -> dict | None:
    import requests  # as in _post

    try:
        response = requests.get(_base(ctx) + "/status", timeout=TIMEOUT)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as exc:
        log.info("devices daemon status unavailable: %s", exc)
        return None
