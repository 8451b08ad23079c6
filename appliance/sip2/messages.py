"""SIP2 request handlers: each turns one parsed request into one answer by calling
core commands only. A DomainError becomes a refusal answer with the reason on
the screen line (AF), in Vietnamese unless the terminal asked for English."""

from __future__ import annotations

import logging
from datetime import date

from appliance.core import catalogue, circulation, holds, patrons, policy, townwide
from appliance.core.errors import N_, DomainError, Forbidden, Invalid, Refused
from appliance.core.fees import balance as fee_balance
from appliance.core.fees import commands as fee_commands
from appliance.core.findkeys import card_key
from appliance.core.models import Hold, Item, Loan, Patron

from .codec import Message, sip_date, yn
from .i18n import translate

log = logging.getLogger(__name__)

SOFTWARE_FAULT = N_("The library system had a fault. Please ask staff.")
NOT_LOGGED_IN = N_("The terminal has not logged in.")
NOT_ON_LOAN = N_("%(barcode)s is not on loan, so there is nothing to return. "
                 "Please take it to the desk.")
SIP_BLOCK_PREFIX = "SIP2: "
MAX_LOGIN_FAILURES = 3  # per connection; the account's own lock-out is core's
KIOSK_ROLES = ("kiosk",)

# BX: patron status, checkout, checkin, block patron, SC/ACS status, resend, login,
# patron information, end session, fee paid, item information, item status update,
# patron enable, hold, renew, renew all.
SUPPORTED = "YYYYYYYYYNYNYYYY"

ITEM_STATUS = {"available": "03", "on_loan": "04", "on_hold_shelf": "08",
               "in_transit": "10", "lost": "12", "damaged": "01", "withdrawn": "01"}

_HANDLERS = {}


def handles(code):
    def register(fn):
        _HANDLERS[code] = fn
        return fn
    return register


def dispatch(session, msg: Message) -> Message | None:
    """The answer to one request; None closes the connection."""
    if msg.code not in ("93", "99") and session.username is None:
        return refusal(session, msg, NOT_LOGGED_IN)
    handler = _HANDLERS.get(msg.code)
    if handler is None:
        return refusal(session, msg, N_("This message is not supported."))
    try:
        return handler(session, msg)
    except DomainError as err:
        return refusal(session, msg, err.message, **err.params)


# --- helpers ----------------------------------------------------------------

def _lang(msg):
    return msg.fixed.get("language", "000")


def _text(session, msg, msgid, **params):
    return translate(msgid, session.extra.get("language", _lang(msg)), **params)


def sip_due(iso_day: str | None) -> str:
    """A due date as an 18-character SIP2 date at the end of that day."""
    if not iso_day:
        return ""
    return date.fromisoformat(iso_day).strftime("%Y%m%d") + "    235959"


def _inst(session, msg):
    return msg.get("AO") or session.institution


def refusal(session, msg: Message, msgid: str, **params) -> Message:
    """A negative answer of the right type for any request, with a reason on AF."""
    now = sip_date()
    screen = ("AF", _text(session, msg, msgid, **params))
    inst = ("AO", _inst(session, msg))
    patron = ("AA", msg.get("AA"))
    item = ("AB", msg.get("AB"))
    fixed = {
        "93": ("94", {"ok": "0"}, []),
        "99": ("98", _acs_status_fixed(online=False), [inst, ("BX", SUPPORTED)]),
        "23": ("24", _patron_fixed(None, msg, now), [inst, patron, ("AE", ""), ("BL", "N")]),
        "01": ("24", _patron_fixed(None, msg, now), [inst, patron, ("AE", ""), ("BL", "N")]),
        "25": ("26", _patron_fixed(None, msg, now), [inst, patron, ("AE", ""), ("BL", "N")]),
        "63": ("64", {**_patron_fixed(None, msg, now), **_counts({})},
               [inst, patron, ("AE", ""), ("BL", "N")]),
        "11": ("12", _circ_fixed("0", now), [inst, patron, item, ("AJ", ""), ("AH", "")]),
        "29": ("30", _circ_fixed("0", now), [inst, patron, item, ("AJ", ""), ("AH", "")]),
        "09": ("10", {"ok": "0", "resensitize": "N", "magnetic_media": "U", "alert": "N",
                      "transaction_date": now}, [inst, item, ("AQ", "")]),
        "17": ("18", {"circulation_status": "01", "security_marker": "00", "fee_type": "01",
                      "transaction_date": now}, [item, ("AJ", "")]),
        "65": ("66", {"ok": "0", "renewed_count": "0000", "unrenewed_count": "0000",
                      "transaction_date": now}, [inst]),
        "15": ("16", {"ok": "0", "available": "N", "transaction_date": now}, [inst, patron]),
        "35": ("36", {"end_session": "N", "transaction_date": now}, [inst, patron]),
        "37": ("38", {"payment_accepted": "N", "transaction_date": now}, [inst, patron]),
        "19": ("20", {"item_properties_ok": "0", "transaction_date": now}, [item]),
    }
    code, fixed_fields, fields = fixed.get(msg.code, ("96", {}, []))
    if code == "96":
        return Message("96")
    if code != "94":
        fields = [*fields, screen]
    return Message(code, fixed_fields, fields)


def _circ_fixed(ok, now, renewal_ok="N", desensitize="N"):
    return {"ok": ok, "renewal_ok": renewal_ok, "magnetic_media": "N",
            "desensitize": desensitize, "transaction_date": now}


def _acs_status_fixed(online=True):
    return {"online_status": yn(online), "checkin_ok": yn(online), "checkout_ok": yn(online),
            "acs_renewal_policy": yn(online), "status_update_ok": "N", "offline_ok": "N",
            "timeout_period": "030", "retries_allowed": "003", "date_time_sync": sip_date(),
            "protocol_version": "2.00"}


def _status_flags(ctx, patron) -> str:
    """The 14-character patron status: a 'Y' where a privilege is denied."""
    flags = [" "] * 14
    if patron is None:
        return "Y" * 4 + " " * 10
    blocked = bool(patrons.blocks(ctx, patron))
    if blocked:
        flags[0] = flags[1] = flags[2] = flags[3] = "Y"
    loans = patrons.open_loans(patron)
    rule = policy.rule_for(patron.library, patron.category, "*")
    if len(loans) >= rule.max_loans:
        flags[5] = "Y"
    if any(loan.due_date < ctx.clock.today().isoformat() for loan in loans):
        flags[6] = "Y"
    if fee_balance.over_limit(ctx.library, patron)[2]:
        flags[11] = "Y"  # excessive outstanding fees: replacements and overdue fees
    return "".join(flags)


def _patron_fixed(patron, msg, now, ctx=None):
    status = _status_flags(ctx, patron) if ctx is not None else "Y" * 4 + " " * 10
    return {"patron_status": status, "language": _lang(msg) if "language" in msg.fixed else "000",
            "transaction_date": now}


MAX_COUNT = 9999  # what a four-digit count can say


def _counts(values):
    names = ("hold_items_count", "overdue_items_count", "charged_items_count",
             "fine_items_count", "recall_items_count", "unavailable_holds_count")
    return {n: f"{min(values.get(n, 0), MAX_COUNT):04d}" for n in names}


def _find_patron(session, card):
    try:
        return patrons.find(session.ctx, card)
    except DomainError:
        return None


def _pin_required(session):
    return bool(session.ctx.settings.get("kiosk_pin_required"))


def _check_pin(session, msg, card):
    """Verify AD when the library asks for a PIN; lock-out is core's (pin_locked)."""
    pin = msg.get("AD")
    if not _pin_required(session) and not pin:
        return
    key = (card, pin)
    if session.extra.get("pin_ok") == key:
        return  # verified on this connection already; scrypt once per patron visit
    # a card of another library: its PIN is checked at the hub, or not at all without a
    # link (the card alone, under the lower limit the screen line explains)
    _patron, verdict = townwide.sign_in(session.ctx, card, pin)
    session.extra["pin_ok"] = key
    session.extra["town"] = (card, verdict)


def _town(session, patron):
    """The hub's verdict on an away card, asked once per card on this connection."""
    card, verdict = session.extra.get("town") or (None, None)
    if card != patron.card or verdict is None:
        verdict = townwide.verify(session.ctx, patron)
        session.extra["town"] = (patron.card, verdict)
    return verdict


def _pin_valid(session, msg, card) -> str:
    """CQ for status answers: Y/N when a PIN was sent, '' when none was."""
    if not msg.has("AD") or not msg.get("AD"):
        return ""
    try:
        _check_pin(session, msg, card)
    except DomainError:
        return "N"
    known, town = session.extra.get("town") or (None, None)
    if known == card and town is not None and not town.get("verified"):
        return ""  # an away card taken alone: its PIN was not checked, so say nothing of it
    return "Y"


# --- login and status ---------------------------------------------------------

@handles("93")
def login(session, msg):
    from appliance.core import users

    name, password = msg.get("CN"), msg.get("CO")
    try:
        user = users.authenticate(session.ctx, name, password)
    except DomainError as err:
        log.info("sip2: %s login as %r refused: %s", session.peer, name, err.code)
        user = None
    if user is None or user.role not in KIOSK_ROLES:
        failures = session.extra["login_failures"] = session.extra.get("login_failures", 0) + 1
        session.closing = failures >= MAX_LOGIN_FAILURES
        return Message("94", {"ok": "0"})
    session.username = user.username
    account = session.ctx.settings.get("sip2_accounts", {}).get(user.username, {})
    session.encoding = account.get("encoding", "utf-8")
    session.terminator = _terminator(account.get("terminator"))
    session.institution = account.get("institution", session.ctx.library)
    if account.get("language"):
        session.extra["language"] = account["language"]
    log.info("sip2: %s logged in as %s (%s)", session.peer, user.username, session.encoding)
    return Message("94", {"ok": "1"})


TERMINATORS = {"CR": b"\r", "CRLF": b"\r\n", "LF": b"\n"}


def _terminator(setting):
    """The account's `terminator` setting as bytes; None answers as each request ends."""
    if not setting:
        return None
    term = TERMINATORS.get(str(setting).replace(" ", "").upper())
    if term is None:
        log.warning("sip2: terminator %r is not one of %s; answering as each request ends",
                    setting, ", ".join(TERMINATORS))
    return term


@handles("99")
def sc_status(session, msg):
    from appliance.core.models import Library

    lib = Library.get_or_none(Library.code == session.ctx.library)
    online = session.username is not None
    fields = [("AO", session.institution), ("AM", lib.name if lib else session.ctx.library),
              ("BX", SUPPORTED)]
    if not online:
        fields.append(("AF", _text(session, msg, NOT_LOGGED_IN)))
    return Message("98", _acs_status_fixed(online), fields)


def _patron_answer(session, msg, code, patron, now, extra_fixed=None, extra_fields=(),
                   cq=None):
    card = msg.get("AA")
    fields = [("AO", _inst(session, msg)), ("AA", card), ("AE", patron.name if patron else ""),
              ("BL", yn(patron is not None))]
    if patron is not None:
        if cq is None:  # a wrong PIN counts towards the lock-out: checked once a request
            cq = _pin_valid(session, msg, card)
        if cq:
            fields.append(("CQ", cq))
        owed, _count = fee_balance.owed(patron.id)
        fields += [("BH", CURRENCY), ("BV", str(owed))]
        fields.extend(extra_fields)
        reasons = patrons.blocks(session.ctx, patron)
        for _code, msgid, params in reasons:
            fields.append(("AF", _text(session, msg, msgid, **params)))
        elsewhere = _paid_elsewhere(session, msg, patron)
        if elsewhere and "fees_owed" not in {code for code, _m, _p in reasons}:
            fields.append(("AF", elsewhere))  # (the fee block says it when there is one)
        if townwide.away(session.ctx, patron):
            notice = townwide.offline_notice(session.ctx, patron, _town(session, patron))
            if notice is not None:
                fields.append(("AF", _text(session, msg, notice[0], **notice[1])))
    else:
        fields.append(("AF", _text(session, msg, N_("No patron has card %(card)s."), card=card)))
    fixed = {**_patron_fixed(patron, msg, now, session.ctx), **(extra_fixed or {})}
    return Message(code, fixed, fields)


@handles("23")
def patron_status(session, msg):
    patron = _find_patron(session, msg.get("AA"))
    return _patron_answer(session, msg, "24", patron, sip_date())


@handles("63")
def patron_information(session, msg):
    card = msg.get("AA")
    patron = _find_patron(session, card)
    now = sip_date()
    if patron is None:
        return _patron_answer(session, msg, "64", None, now, _counts({}))
    lists = _patron_lists(session.ctx, patron)
    counts = _counts({k + "_count": len(v) for k, v in lists.items()})
    wanted = msg.fixed.get("summary", " " * 10)
    # Without BP/BQ the whole list: the count beside it says how many there are.
    start = _int(msg.get("BP"), 1)
    end = _int(msg.get("BQ"), MAX_COUNT)
    extra = []
    for pos, (name, fid) in enumerate(_SUMMARY):
        if pos < len(wanted) and wanted[pos] == "Y":
            extra += [(fid, v) for v in lists[name][start - 1:end]]
    rule = policy.rule_for(patron.library, patron.category, "*")
    extra.append(("CB", f"{rule.max_loans:04d}"))
    extra.append(("CC", str(fee_balance.limit(session.ctx.library, patron.category))))
    cq = _pin_valid(session, msg, card)
    if cq == "Y":
        # How to reach a reader is theirs: only for the one who gave the card's PIN.
        extra += [("BE", patron.email or ""), ("BF", patron.phone or "")]
    return _patron_answer(session, msg, "64", patron, now, counts, extra, cq=cq)


_SUMMARY = (("hold_items", "AS"), ("overdue_items", "AT"), ("charged_items", "AU"),
            ("fine_items", "AV"), ("recall_items", "BU"), ("unavailable_holds", "CD"))


def _int(text, default):
    try:
        return max(1, int(text))
    except (TypeError, ValueError):
        return default


def _patron_lists(ctx, patron):
    today = ctx.clock.today().isoformat()
    loans = patrons.open_loans(patron)
    barcodes = {i.id: i.barcode for i in
                Item.select(Item.id, Item.barcode).where(Item.id << [ln.item_id for ln in loans])}
    held = list(Hold.select().where((Hold.patron == patron.id)
                                    & (Hold.status << ("waiting", "ready"))))
    unpaid = [fee for fee in fee_balance.of_patron(patron.id) if fee.state == "open"]
    owing = fee_balance.balances(unpaid)
    return {
        "hold_items": [h.item.barcode for h in held if h.status == "ready" and h.item_id],
        "overdue_items": [barcodes[ln.item_id] for ln in loans if ln.due_date < today],
        "charged_items": [barcodes[ln.item_id] for ln in loans],
        # each open fee: its id (CG for 37), its balance in đồng, the copy it is for
        "fine_items": [f"{fee.id} {owing[fee.id]} {_barcode(fee.item)}" for fee in unpaid],
        "recall_items": [],
        "unavailable_holds": [h.bib.title for h in held if h.status == "waiting"],
    }


def _barcode(item_id):
    item = Item.get_or_none(Item.id == item_id) if item_id else None
    return item.barcode if item else ""


# --- circulation --------------------------------------------------------------

@handles("11")
def checkout(session, msg):
    card, barcode = msg.get("AA"), msg.get("AB")
    _check_pin(session, msg, card)
    if msg.get("BI") == "Y":
        return _cancel_checkout(session, msg, card, barcode)
    known, town = session.extra.get("town") or (None, None)  # the hub's word, when asked
    result = circulation.checkout(session.ctx, card, barcode, actor=f"sip2:{session.username}",
                                  town=town if known == card else None)
    session.patron = card
    return Message("12", _circ_fixed("1", sip_date(), desensitize="Y"), [
        ("AO", _inst(session, msg)), ("AA", card), ("AB", barcode),
        ("AJ", result.get("title", "")), ("AH", sip_due(result["due_date"])),
        ("BK", result["loan_id"]), ("CK", "001"),
        ("AF", _text(session, msg, N_("Due back on %(date)s."),
                     date=_vn_date(result["due_date"]))),
    ])


def _cancel_checkout(session, msg, card, barcode):
    """BI=Y: the terminal could not finish a checkout (say, desensitising), undo it."""
    item = catalogue.get_item(session.ctx, barcode)
    loan = Loan.get_or_none((Loan.item == item.id) & Loan.returned_at.is_null())
    if loan is None or loan.patron.card != card:
        return refusal(session, msg, N_("%(barcode)s is not on loan to you."), barcode=barcode)
    circulation.checkin(session.ctx, barcode, actor=f"sip2:{session.username}")
    return Message("12", _circ_fixed("1", sip_date()), [
        ("AO", _inst(session, msg)), ("AA", card), ("AB", barcode),
        ("AJ", item.bib.title), ("AH", ""),
        ("AF", _text(session, msg, N_("The checkout was cancelled."))),
    ])


def _vn_date(iso_day):
    return date.fromisoformat(iso_day).strftime("%d/%m/%Y")


# Alert types (CV, a 3M extension Koha and Evergreen send too): what the sorter or the
# screen should do with a copy that does not go back on the shelf.
ALERT_HOLD_HERE, ALERT_TRANSIT = "01", "04"


@handles("09")
def checkin(session, msg):
    barcode = msg.get("AB")
    result = circulation.checkin(session.ctx, barcode, actor=f"sip2:{session.username}")
    # another library's copy (returned, or sent here for a hold): found in its library
    home = result.get("transit") or result.get("arrived") or session.ctx.library
    item = catalogue.get_item(session.ctx, barcode, library=home)
    fields = [("AO", _inst(session, msg)), ("AB", barcode), ("AQ", item.location or item.library),
              ("AJ", result.get("title", ""))]
    alert = False
    sent = (result.get("hold") or {}).get("sent") and result["hold"]["library"]
    if sent:  # for a hold picked up at another library: to be sent there
        alert = True
        fields += [("CL", sent), ("CT", sent), ("CV", ALERT_TRANSIT),
                   ("AF", _text(session, msg, N_("A reader at library %(library)s is waiting "
                                                 "for this: leave it at the desk, and the "
                                                 "library will send it there."),
                                library=_library_name(sent)))]
    elif result.get("hold"):
        alert = True
        fields += [("AA", result["hold"]["patron"]), ("CL", "HOLD"), ("CV", ALERT_HOLD_HERE),
                   ("CY", result["hold"]["patron"]),
                   ("AF", _text(session, msg, N_("On hold for another reader: put it on the "
                                                 "hold shelf.")))]
    elif result.get("transit"):
        # CL the sort bin, CT the destination (3M), CV 04: send it to another library
        alert = True
        fields += [("CL", result["transit"]), ("CT", result["transit"]),
                   ("CV", ALERT_TRANSIT),
                   ("AF", _text(session, msg, N_("Returned. This belongs to library "
                                                 "%(library)s: leave it at the desk, and the "
                                                 "library will send it home."),
                                library=_library_name(result["transit"])))]
        if not result.get("was_on_loan"):  # taken back here already: no second return
            return Message("10", {"ok": "0", "resensitize": "N", "magnetic_media": "N",
                                  "alert": "Y", "transaction_date": sip_date()}, fields)
    elif not result.get("was_on_loan"):
        # Nothing was returned: say so (ok 0), so the machine does not thank the reader
        # for a book that was never lent and sends them to the desk instead.
        fields.append(("AF", _text(session, msg, NOT_ON_LOAN, barcode=barcode)))
        return Message("10", {"ok": "0", "resensitize": "N", "magnetic_media": "N",
                              "alert": "N", "transaction_date": sip_date()}, fields)
    else:
        fields.append(("AF", _text(session, msg, N_("Thank you, the item is returned."))))
    return Message("10", {"ok": "1", "resensitize": yn(not alert), "magnetic_media": "N",
                          "alert": yn(alert), "transaction_date": sip_date()}, fields)


def _library_name(code):
    from appliance.core.models import Library

    lib = Library.get_or_none(Library.code == code)
    return lib.name if lib is not None and lib.name else code


@handles("29")
def renew(session, msg):
    card, barcode = msg.get("AA"), msg.get("AB")
    _check_pin(session, msg, card)
    result = circulation.renew(session.ctx, barcode, actor=f"sip2:{session.username}",
                               patron_card=card)  # (another library's copy lent here too)
    return Message("30", _circ_fixed("1", sip_date(), renewal_ok="Y", desensitize="Y"), [
        ("AO", _inst(session, msg)), ("AA", card), ("AB", barcode), ("AJ", result["title"]),
        ("AH", sip_due(result["due_date"])),
        ("AF", _text(session, msg, N_("Due back on %(date)s."),
                     date=_vn_date(result["due_date"]))),
    ])


@handles("65")
def renew_all(session, msg):
    card = msg.get("AA")
    _check_pin(session, msg, card)
    patron = patrons.find(session.ctx, card)
    renewed, refused = [], []
    for loan in patrons.open_loans(patron):
        barcode = loan.item.barcode
        try:
            circulation.renew(session.ctx, barcode, actor=f"sip2:{session.username}",
                              patron_card=card)
            renewed.append(barcode)
        except DomainError:
            refused.append(barcode)
    fields = [("AO", _inst(session, msg))] + [("BM", b) for b in renewed]
    fields += [("BN", b) for b in refused]
    fields.append(("AF", _text(session, msg, N_("%(count)s items renewed."),
                               count=len(renewed))))
    return Message("66", {"ok": "1", "renewed_count": f"{len(renewed):04d}",
                          "unrenewed_count": f"{len(refused):04d}",
                          "transaction_date": sip_date()}, fields)


@handles("17")
def item_information(session, msg):
    barcode = msg.get("AB")
    item = catalogue.get_item(session.ctx, barcode)
    loan = Loan.get_or_none((Loan.item == item.id) & Loan.returned_at.is_null())
    queue = catalogue.holds_count(item.bib)
    fields = [("CF", f"{queue}"), ("AB", barcode), ("AJ", item.bib.title), ("BG", item.library),
              ("CK", "001"), ("AQ", item.location or item.library),
              ("AP", item.location or item.library)]
    if loan:
        fields.insert(1, ("AH", sip_due(loan.due_date)))
    hold = Hold.get_or_none((Hold.item == item.id) & (Hold.status == "ready"))
    if hold and hold.pickup_by:
        fields.insert(1, ("CM", sip_due(hold.pickup_by)))
    return Message("18", {"circulation_status": ITEM_STATUS.get(item.status, "01"),
                          "security_marker": "00", "fee_type": "01",
                          "transaction_date": sip_date()}, fields)


@handles("19")
def item_status_update(session, msg):
    item = catalogue.get_item(session.ctx, msg.get("AB"))
    return Message("20", {"item_properties_ok": "0", "transaction_date": sip_date()}, [
        ("AB", item.barcode), ("AJ", item.bib.title),
        ("AF", _text(session, msg, N_("Item properties are kept by staff at the desk."))),
    ])


# --- holds, sessions, fees, blocks ---------------------------------------------

@handles("15")
def hold(session, msg):
    card = msg.get("AA")
    _check_pin(session, msg, card)
    mode = msg.fixed["hold_mode"]
    bib = _hold_bib(session, msg)
    bib_id = bib.id
    if mode == "+":
        placed = holds.place(session.ctx, card, bib_id)
        available = placed.status == "ready"
        text = N_("Your hold is placed.")
    elif mode == "-":
        current = (Hold.select().join(Patron)
                   .where((Hold.bib == bib_id) & (Hold.status << ("waiting", "ready"))
                          & (Patron.card_key == card_key(card))).first())
        if current is None:
            raise DomainError("hold_not_found", N_("No such hold."), status=404)
        holds.cancel(session.ctx, current.id, patron_card=card)
        available, text = False, N_("Your hold is cancelled.")
    else:
        return refusal(session, msg, N_("Changing a hold is done at the desk."))
    return Message("16", {"ok": "1", "available": yn(available), "transaction_date": sip_date()},
                   [("AO", _inst(session, msg)), ("AA", card), ("AB", msg.get("AB")),
                    ("AJ", bib.title), ("AF", _text(session, msg, text))])


def _hold_bib(session, msg):
    """The record a hold is for: from the item barcode (AB), else AJ as a record id."""
    if msg.get("AB"):
        return catalogue.get_item(session.ctx, msg.get("AB")).bib
    return catalogue.get_bib(session.ctx, msg.get("AJ"))


@handles("35")
def end_session(session, msg):
    session.patron = None
    session.extra.pop("pin_ok", None)
    return Message("36", {"end_session": "Y", "transaction_date": sip_date()}, [
        ("AO", _inst(session, msg)), ("AA", msg.get("AA")),
        ("AF", _text(session, msg, N_("Thank you. Goodbye!"))),
    ])


@handles("37")
def fee_paid(session, msg):
    """A payment taken by the machine: to one fee named by CG (its id, as AV lists it),
    or to the patron's open fees at this library, oldest first; the amount (BV, whole
    đồng) may be part of what is owed, never more. BK, the machine's own id of the
    payment, is kept with it: the same BK from the same login again is this payment
    sent again, and is answered as taken without paying twice (docs/sip2.md)."""
    card = msg.get("AA")
    patron = _find_patron(session, card)
    if patron is None:
        return refusal(session, msg, N_("No patron has card %(card)s."), card=card)
    if (msg.fixed.get("currency_type") or CURRENCY).strip() not in ("", CURRENCY):
        return refusal(session, msg, N_("Fees are paid in đồng (VND)."))
    the_id = msg.get("CG") or None
    try:
        paid = fee_commands.pay_amount(session.ctx, patron, _amount(msg.get("BV")), the_id,
                                       actor=session.username,
                                       transaction=msg.get("BK") or None)
    except Forbidden as err:
        if err.code != "other_library":
            raise
        # the desk's words, with the library's name: a reader knows it by that, not its code
        return refusal(session, msg, PAY_THERE, library=_library_name(err.params["library"]))
    except Refused as err:
        if the_id:
            raise
        # too much or nothing owed here: say which part the machine cannot take
        return _and_paid_elsewhere(session, msg, patron,
                                   refusal(session, msg, err.message, **err.params))
    if paid.again:
        log.info("sip2: %s: payment %s was taken before, not paid again", session.peer,
                 msg.get("BK"))
    words = _text(session, msg, N_("Payment of %(amount)s received. Thank you."),
                  amount=fee_commands.vnd(paid.amount))
    owing = _owed_here(session, patron)  # (what other libraries take, the next words say)
    if owing:
        words += " " + _text(session, msg, N_("Still owed: %(balance)s."),
                             balance=fee_commands.vnd(owing))
    return _and_paid_elsewhere(session, msg, patron, Message(
        "38", {"payment_accepted": "Y", "transaction_date": sip_date()}, [
            ("AO", _inst(session, msg)), ("AA", card),
            ("BK", msg.get("BK") or (paid.fees[0].id if paid.fees else "")), ("AF", words)]))


def _owed_here(session, patron):
    """What the card still owes of the fees this machine takes."""
    here = [fee for fee in fee_balance.of_patron(patron.id) if fee.state == "open"
            and fee_commands.settled_here(session.ctx, fee)]
    return sum(fee_balance.balances(here).values())


CURRENCY = "VND"
PAY_THERE = N_("Pay at %(library)s: only the library that charged the fee takes the "
               "payment or waives it.")


def _paid_elsewhere(session, msg, patron):
    """The screen words for what the card owes other libraries, or None. Their fees
    reach the patron's home library and count there, but only the library that charged
    one takes its payment (docs/circulation.md, "Fees"), so the machine says where."""
    owed_to = fee_balance.elsewhere_params(session.ctx.library, patron.id)
    if not owed_to:
        return None
    return _text(session, msg, N_("Of what is owed, %(elsewhere)s is paid at %(libraries)s, "
                                  "which charged it, not at this machine."), **owed_to)


def _and_paid_elsewhere(session, msg, patron, answer):
    """A 38 whose screen line goes on to say what is paid at other libraries: one line,
    since many machines show only the first AF."""
    elsewhere = _paid_elsewhere(session, msg, patron)
    if elsewhere:
        answer.fields = [(fid, f"{value} {elsewhere}" if fid == "AF" else value)
                         for fid, value in answer.fields]
    return answer


def _amount(text):
    """BV as whole đồng: "150000" or "150000.00"."""
    try:
        value = float((text or "").strip())
    except ValueError:
        value = -1
    if value < 0 or value != int(value):
        raise Invalid("bad_amount", N_("The amount must be a whole number of đồng."))
    return int(value)


@handles("01")
def block_patron(session, msg):
    """The terminal blocks a card (say, left in the machine); staff lift it."""
    card = msg.get("AA")
    reason = SIP_BLOCK_PREFIX + (msg.get("AL") or "blocked by the self-check")
    patrons.block(session.ctx, card, reason)
    patron = patrons.find(session.ctx, card)
    return _patron_answer(session, msg, "24", patron, sip_date())


@handles("25")
def patron_enable(session, msg):
    """Lift only a block a terminal set; a block staff set stays."""
    card = msg.get("AA")
    patron = patrons.find(session.ctx, card)
    if patron.blocked and (patron.block_reason or "").startswith(SIP_BLOCK_PREFIX):
        patrons.unblock(session.ctx, card)
        patron = patrons.find(session.ctx, card)
    return _patron_answer(session, msg, "26", patron, sip_date())

