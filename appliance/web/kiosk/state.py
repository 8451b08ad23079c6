"""What the kiosk remembers between taps, in the signed session cookie: the patron
who identified, a card waiting for its PIN, the visit's transactions (for the
receipt) and the outcome of the last action. Kept small and bounded."""

import time

from flask import g, session

KEYS = ("kiosk_card", "kiosk_name", "kiosk_pending", "kiosk_log", "kiosk_results",
        "kiosk_outcome", "kiosk_town")
MAX_LOG = 40
MAX_RESULTS = 12


def idle_seconds():
    return int(g.ctx.settings.get("kiosk_idle_seconds", 60))


def touch():
    """Forget the patron when the kiosk has been idle longer than the time-out."""
    seen = session.get("kiosk_seen", 0)
    if seen and time.time() - seen > idle_seconds() + 5:
        clear()
    session["kiosk_seen"] = time.time()


def clear():
    for key in KEYS:
        session.pop(key, None)
    session["lang"] = "vi"  # the next patron starts in Vietnamese


def patron_card():
    return session.get("kiosk_card")


def town():
    return session.get("kiosk_town")


def identify(patron, town=None):
    """`town`: the hub's verdict on a card of another library (core's townwide), kept for
    the visit's loans."""
    session.pop("kiosk_pending", None)
    session["kiosk_card"] = patron.card
    session["kiosk_town"] = town
    session["kiosk_name"] = patron.name
    session["kiosk_log"] = []


def log_transaction(kind, barcode, due=None):
    entries = session.get("kiosk_log", [])
    entries.append({"k": kind, "b": barcode, "d": due})
    session["kiosk_log"] = entries[-MAX_LOG:]


def set_results(results):
    """Show these outcomes once; the overall outcome drives colour and sound."""
    results = results[:MAX_RESULTS]
    session["kiosk_results"] = results
    if not results:
        outcome = "none"
    elif all(r["ok"] for r in results):
        outcome = "ok"
    elif any(r["ok"] for r in results):
        outcome = "mixed"
    else:
        outcome = "refused"
    session["kiosk_outcome"] = outcome


def pop_results():
    return session.pop("kiosk_results", []), session.pop("kiosk_outcome", "none")
