"""What is due: worked out from the state every time, never stored, so a hold picked up
or a copy returned simply stops being due. A notice's key names the notice for ever:
kind, patron, loan, hold or remote request, and its date (the pickup day, the due date,
a copy's last day). A renewal gives a new due date, so a copy overdue again is a new
notice; the same one never is."""

from dataclasses import dataclass
from datetime import timedelta

from ..models import Bib, Hold, Item, Loan, Patron, RemoteRequest
from ..requests import copies

SOON_DAYS = 3  # "due soon" on the OPAC account and at the kiosk


@dataclass
class Notice:
    kind: str  # hold_ready, overdue, due_soon, copy_ready
    patron: Patron
    ref: str  # the hold's, the loan's or the remote request's id
    date: str  # ISO: the last day to pick up or to download, or the due date
    title: str
    barcode: str
    library: str  # where to pick it up, the library that lent it or copied the pages
    lang: str | None = None  # the patron's own language, when they said one

    @property
    def key(self):
        return f"{self.kind}|{self.patron.id}|{self.ref}|{self.date}"


def _ready_holds(where):
    rows = (Hold.select(Hold, Patron, Bib, Item).join(Patron).switch(Hold).join(Bib)
            .switch(Hold).join(Item, on=(Hold.item == Item.id))
            .where((Hold.status == "ready") & where).order_by(Hold.pickup_by, Hold.id))
    return [Notice("hold_ready", h.patron, h.id, h.pickup_by or "", h.bib.title,
                   h.item.barcode if h.item else "", h.library) for h in rows]


def lent_here(library):
    """Loans this library made: of its own copies, or of another's sent for a hold."""
    return (Loan.pickup == library) | ((Loan.library == library) & Loan.pickup.is_null())


def _loans(where, kind):
    rows = (Loan.select(Loan, Patron, Item, Bib).join(Patron).switch(Loan).join(Item)
            .join(Bib).where(Loan.returned_at.is_null() & where)
            .order_by(Loan.due_date, Loan.id))
    return [Notice(kind, ln.patron, ln.id, ln.due_date, ln.item.bib.title, ln.item.barcode,
                   ln.pickup or ln.library) for ln in rows]


def now_due(ctx, today=None, library=None):
    """The hold-ready and overdue notices of this library's desk (holds to pick up here,
    copies lent here), patron by patron (their home library's patrons or not)."""
    library = library or ctx.library
    today = (today or ctx.clock.today()).isoformat()
    found = _ready_holds(Hold.library == library)
    found += _loans(lent_here(library) & (Loan.due_date < today), "overdue")
    return sorted(found, key=lambda n: (n.patron.school_class or "", n.patron.name_sort,
                                        n.patron.id, n.kind, n.date))


def copies_ready(ctx, today=None, library=None):
    """The remote copies ready for this library's own patrons whose PDF is held here
    (the e-mail sends them to a download that works), not yet downloaded nor past their
    last day; by e-mail only, in the language the patron asked in."""
    library = library or ctx.library
    today = (today or ctx.clock.today()).isoformat()
    home = Patron.select(Patron.id).where(Patron.library == library)
    rows = [r for r in RemoteRequest.select().where(
        RemoteRequest.patron.in_(home) & (RemoteRequest.kind == "copy")
        & (RemoteRequest.state == "ready") & RemoteRequest.sha256.is_null(False)
        & (RemoteRequest.expires_at >= today)).order_by(RemoteRequest.expires_at,
                                                        RemoteRequest.id)
        if copies.held(ctx.files, r)]
    askers = {p.id: p for p in Patron.select().where(Patron.id << [r.patron for r in rows])}
    return [Notice("copy_ready", askers[r.patron], r.id, (r.expires_at or "")[:10], r.title,
                   "", r.library, r.lang) for r in rows]


def for_patron(ctx, patron, today=None, soon_days=SOON_DAYS):
    """What the patron is told on the OPAC account and at the kiosk: holds ready (at any
    library), copies due within `soon_days`, and copies overdue."""
    today = today or ctx.clock.today()
    soon = (today + timedelta(days=soon_days)).isoformat()
    found = _ready_holds(Hold.patron == patron.id)
    for notice in _loans((Loan.patron == patron.id) & (Loan.due_date <= soon), "due_soon"):
        if notice.date < today.isoformat():
            notice.kind = "overdue"
        found.append(notice)
    return found


def is_still_due(kind, ref, day, today):
    """Whether a queued notice still holds: its hold still ready for the same pickup day,
    its loan still out with the same due date and past it."""
    if kind == "hold_ready":
        hold = Hold.get_or_none(Hold.id == ref)
        return hold is not None and hold.status == "ready" and (hold.pickup_by or "") == day
    if kind == "copy_ready":  # not downloaded, expired or sent again with a new day since
        req = RemoteRequest.get_or_none(RemoteRequest.id == ref)
        return (req is not None and req.state == "ready"
                and (req.expires_at or "")[:10] == day and day >= today.isoformat())
    loan = Loan.get_or_none(Loan.id == ref)
    return (loan is not None and loan.returned_at is None and loan.due_date == day
            and day < today.isoformat())
