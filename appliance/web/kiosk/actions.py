"""Kiosk transactions over core commands: several items at once (an RFID pad reads
a stack), each with its own outcome and plain reason, and the tag's AFI set
afterwards. A failed AFI write never undoes a loan: the loan is the fact."""

import json
import logging

from flask import g, request
from flask_babel import gettext as _

from ... import devices_client
from ...core import catalogue, circulation
from ...core.errors import DomainError
from .. import i18n
from ..helpers import library_name, vndate

log = logging.getLogger(__name__)

MAX_ITEMS = 20


def items_from_form():
    """[(barcode, [uids], set_size, parts seen)] from typed/scanned barcodes or RFID tags."""
    found = {}
    for barcode in request.form.getlist("barcode"):
        barcode = barcode.strip()
        if barcode:
            found.setdefault(barcode, {"uids": [], "size": 1, "seen": 1})
    try:
        tags = json.loads(request.form.get("tags") or "[]")
    except ValueError:
        tags = []
    for tag in tags if isinstance(tags, list) else []:
        if not isinstance(tag, dict) or not tag.get("barcode"):
            continue
        entry = found.setdefault(str(tag["barcode"]).strip(), {"uids": [], "size": 1, "seen": 0})
        if tag.get("uid"):
            entry["uids"].append(str(tag["uid"]))
        entry["seen"] += 1
        entry["size"] = max(entry["size"], _int(tag.get("set_size"), 1))
    return [(b, e["uids"], e["size"], e["seen"]) for b, e in list(found.items())[:MAX_ITEMS]]


def _int(value, default):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _refused(barcode, message, title=""):
    return {"ok": False, "barcode": barcode, "title": title, "message": message}


def _incomplete(barcode, size, seen):
    return _refused(barcode, _("%(barcode)s has %(size)s parts; lay all of them on the pad "
                               "together.", barcode=barcode, size=size))


def checkout_many(card, items, actor, town=None):
    results = []
    for barcode, uids, size, seen in items:
        if uids and seen < size:
            results.append(_incomplete(barcode, size, seen))
            continue
        try:
            r = circulation.checkout(g.ctx, card, barcode, actor=actor, town=town)
        except DomainError as e:
            results.append(_refused(barcode, i18n.translate(e)))
            continue
        afi_ok = all(devices_client.set_afi(g.ctx, uid, devices_client.AFI_ON_LOAN)
                     for uid in uids)
        message = _("Due back on %(date)s.", date=vndate(r["due_date"]))
        if not afi_ok:
            message += " " + _("Please show this item to the librarian on your way out.")
        results.append({"ok": True, "barcode": barcode, "title": r["title"],
                        "due": r["due_date"], "message": message})
    return results


def checkin_many(items, actor):
    results = []
    for barcode, uids, size, seen in items:
        if uids and seen < size:
            results.append(_incomplete(barcode, size, seen))
            continue
        try:
            r = circulation.checkin(g.ctx, barcode, actor=actor)
        except DomainError as e:
            results.append(_refused(barcode, i18n.translate(e)))
            continue
        for uid in uids:
            devices_client.set_afi(g.ctx, uid, devices_client.AFI_ON_SHELF)
        results.append({"ok": True, "barcode": barcode, "title": r["title"],
                        "message": _return_message(r), "returned": r["was_on_loan"],
                        "hold": bool(r.get("hold"))})
    return results


def _return_message(r):
    if r.get("hold") and r["hold"].get("sent"):  # for a hold picked up elsewhere
        return _("A reader at %(library)s is waiting for this: please leave it at the desk, "
                 "and the library will send it there.",
                 library=library_name(r["hold"]["library"]))
    if r.get("hold"):
        return _("Someone is waiting for this: please put it on the hold shelf.")
    if r.get("transit"):  # another library's copy: it goes home from the desk
        return _("Returned. This belongs to %(library)s: please leave it at the desk, and "
                 "the library will send it home.", library=library_name(r["transit"]))
    if not r.get("was_on_loan"):
        return _("This was not on loan; it can go back on the shelf.")
    return _("Returned. Thank you!")


def renew_one(card, barcode, actor):
    try:
        r = circulation.renew(g.ctx, barcode, actor=actor, patron_card=card)
    except DomainError as e:
        return _refused(barcode, i18n.translate(e))
    title = catalogue.get_item(g.ctx, barcode).bib.title
    return {"ok": True, "barcode": barcode, "title": title, "due": r["due_date"],
            "message": _("Renewed until %(date)s.", date=vndate(r["due_date"]))}
