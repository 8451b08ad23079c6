"""Download my data: what the library holds about a patron, as JSON and as a readable
PDF (the right of access): the profile, loans, holds, remote requests and fees.
`SECTIONS` holds the sections beyond loans and holds, each a function patron -> (key,
rows) or None; a part that keeps more about patrons adds its own."""

import io
from datetime import datetime, timezone
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from .. import fees
from ..clock import LIBRARY_TZ, written
from ..errors import N_
from ..fees import balance, vnd
from ..models import Fee, Hold, Library, Loan, RemoteRequest
from . import history

PROFILE = ("card", "name", "category", "library", "expiry", "birth_year", "birth_date",
           "school_class", "guardian", "guardian_consent", "phone", "email", "blocked",
           "block_reason", "keep_history", "created_at")


def _requests(patron):
    rows = RemoteRequest.select().where(RemoteRequest.patron == patron.id).order_by(
        RemoteRequest.placed_at)
    return "requests", [{"kind": r.kind, "title": r.title, "pages": r.pages,
                         "purpose": r.purpose, "address": r.address, "library": r.library,
                         "placed_at": r.placed_at, "status": r.state, "reason": r.reason}
                        for r in rows]


def _fees(patron):
    """Each fee with what was paid of it and what is still owed (its balance)."""
    rows = list(Fee.select().where((Fee.patron == patron.id) & (Fee.charged_hlc > 0))
                .order_by(Fee.charged_at))
    done = balance.parts([f.id for f in rows])
    return "fees", [{"kind": f.kind, "amount": f.amount,
                     "paid": done.get(f.id, (0, 0))[0],
                     "balance": balance.balance_of(f, done.get(f.id, (0, 0))),
                     "library": f.library, "charged_at": f.charged_at, "status": f.state,
                     "settled_at": f.settled_at, "reason": f.reason} for f in rows]


SECTIONS: list = [_requests, _fees]  # (patron) -> (key, list of dicts) or None
# The PDF's words, translated by the caller's `tr` (core holds no translations).
WORDS = {"title": N_("The library's data about you"), "profile": N_("Profile"),
         "loans": N_("Loans and returns"), "holds": N_("Holds"), "none": N_("None."),
         "yes": N_("yes"),
         "no": N_("no"), "card": N_("Card"), "name": N_("Name"), "category": N_("Category"),
         "library": N_("Library"), "expiry": N_("Expiry"), "birth_year": N_("Year of birth"),
         "birth_date": N_("Date of birth"), "school_class": N_("Class"),
         "guardian": N_("Guardian"), "guardian_consent": N_("Guardian's consent"),
         "phone": N_("Phone"), "email": N_("E-mail"), "blocked": N_("Blocked"),
         "block_reason": N_("Why blocked"), "keep_history": N_("Reading history kept"),
         "created_at": N_("Registered"), "title_col": N_("Title"), "out_at": N_("Borrowed"),
         "due_date": N_("Due"), "returned_at": N_("Returned"), "placed_at": N_("Placed"),
         "status": N_("Status"), "requests": N_("Remote requests"), "fees": N_("Fees"),
         "kind": N_("Kind"), "amount": N_("Amount"), "paid": N_("Paid so far"),
         "balance": N_("Balance"), "charged_at": N_("Charged on"),
         "settled_at": N_("Settled on"), "reason": N_("Reason"), "pages": N_("Pages"),
         "purpose": N_("Purpose"), "address": N_("Postal address")}
# What a section's codes say to a reader (a fee's "open" is owed, a request's "lent" was
# sent by post): per section, since one code means different things in two of them.
CODES = {
    "profile": {"category": {"child": N_("Child"), "pupil": N_("Pupil"), "adult": N_("Adult"),
                             "staff": N_("Staff")}},
    "holds": {"status": {"waiting": N_("Waiting"), "in_transit": N_("In transit"),
                         "ready": N_("Ready for pickup"), "fulfilled": N_("Fulfilled"),
                         "cancelled": N_("Cancelled"), "expired": N_("Expired")}},
    "requests": {"kind": {"copy": N_("Remote copy"), "postal_loan": N_("Loan by post")},
                 "status": {"requested": N_("Sent to the library"),
                            "accepted": N_("Accepted by the library"),
                            "ready": N_("Copy ready to download"),
                            "lent": N_("Sent by post"), "delivered": N_("Downloaded"),
                            "returned": N_("Returned"), "expired": N_("Expired"),
                            "refused": N_("Refused"), "cancelled": N_("Cancelled")}},
    "fees": {"kind": fees.KINDS,
             "status": {"open": N_("Owed"), "paid": N_("Paid"), "waived": N_("Waived")}},
}
MONEY = ("amount", "paid", "balance")
WHEN = ("expiry", "birth_date", "created_at", "out_at", "due_date", "returned_at",
        "placed_at", "charged_at", "settled_at", "pickup_by")


def _loan(loan):
    return {"title": loan.item.bib.title, "barcode": loan.item.barcode,
            "library": loan.library, "out_at": loan.out_at, "due_date": loan.due_date,
            "returned_at": loan.returned_at, "renewals": loan.renewals, "fee": loan.fee}


def collect(patron):
    """The patron's data as a dict: profile, loans (open, and returned when the reading
    history is on), holds, and what other parts add."""
    loans = Loan.select().where(Loan.patron == patron.id).order_by(Loan.out_at)
    if not history.visible(patron):
        loans = loans.where(Loan.returned_at.is_null())
    holds = Hold.select().where(Hold.patron == patron.id).order_by(Hold.placed_at)
    data = {
        "made_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "profile": {k: getattr(patron, k) for k in PROFILE},
        "loans": [_loan(loan) for loan in loans],
        "holds": [{"title": h.bib.title, "library": h.library, "placed_at": h.placed_at,
                   "status": h.status, "pickup_by": h.pickup_by} for h in holds],
    }
    for section in SECTIONS:
        found = section(patron)
        if found:
            data[found[0]] = found[1]
    return data


def to_pdf(data, tr=str):
    """A readable PDF of `collect`'s data, its words translated by `tr`."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    from .. import pdf_fonts

    pdf_fonts.register()
    words = {k: tr(v) for k, v in WORDS.items()}
    profile = data["profile"]
    library = Library.get_or_none(Library.code == profile["library"])
    zone = _zone(library)

    codes = {section: {key: {code: tr(text) for code, text in said.items()}
                       for key, said in keys.items()} for section, keys in CODES.items()}

    def shown(value, key, section=None):
        return _shown(value, words, zone, codes.get(section, {}).get(key), key)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=15 * mm, bottomMargin=15 * mm, title=words["title"])
    body = ParagraphStyle("b", fontName="DejaVu", fontSize=9.5, leading=12)
    head = ParagraphStyle("h", parent=body, fontName="DejaVu-Bold", fontSize=12, leading=16,
                          spaceBefore=6)

    def p(text, style=body):
        return Paragraph(escape("" if text is None else str(text)), style)

    story = [p(words["title"], ParagraphStyle("t", parent=head, fontSize=15, leading=20)),
             p(f'{library.name if library else profile["library"]} · '
               f'{written(data["made_at"], zone)}'),
             p(words["profile"], head)]
    story.append(Table([[p(words.get(k, k)), p(shown(v, k, "profile"))]
                        for k, v in profile.items()
                        if v not in (None, "")], colWidths=[50 * mm, 120 * mm]))
    for key, columns in (("loans", ("title", "out_at", "due_date", "returned_at")),
                         ("holds", ("title", "placed_at", "status"))):
        story += [Spacer(1, 3 * mm), p(words[key], head)]
        rows = data.get(key) or []
        if not rows:
            story.append(p(words["none"]))
            continue
        story.append(Table([[p(words.get("title_col" if c == "title" else c, c), head)
                             for c in columns]]
                           + [[p(shown(r.get(c), c, key)) for c in columns]
                              for r in rows]))
    for key, rows in data.items():
        if key not in ("made_at", "profile", "loans", "holds") and isinstance(rows, list):
            story += [Spacer(1, 3 * mm), p(words.get(key, key), head)]
            story += [p("; ".join(f"{words.get(k, k)}: {shown(v, k, key)}"
                                  for k, v in r.items() if v not in (None, "")))
                      for r in rows] or [p(words["none"])]
    doc.build(story)
    return out.getvalue()


def _shown(value, words, zone, codes, key):
    """A value as a reader reads it: yes/no, a code in words, an amount in đồng, a date
    as dd/mm/yyyy (a time on the library's clock)."""
    if value is True:
        return words["yes"]
    if value is False:
        return words["no"]
    if codes and value in codes:
        return codes[value]
    if key in MONEY and isinstance(value, int):
        return vnd(value)
    if key in WHEN and isinstance(value, str):
        return written(value, zone)
    return value


def _zone(library):
    try:
        return ZoneInfo(library.timezone) if library is not None and library.timezone \
            else LIBRARY_TZ
    except (KeyError, ValueError):
        return LIBRARY_TZ
