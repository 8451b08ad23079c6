"""The requests' commands: a patron places or cancels one; the library that handles it
accepts or refuses it, attaches the scanned pages, lends a copy by post, receives it
back. Each checks the state machine (states.check) and records under the write lock."""

import re
from datetime import timedelta

from .. import circulation, events
from ..errors import N_, Forbidden, Invalid, NotFound, Refused
from ..ids import new_id
from ..models import Bib, DigitalDocument, Item, Patron, RemoteRequest
from . import links, states

MAX_PDF = 50 * 1024 ** 2  # a scanned chapter; a whole book is lent, not copied
LINK_DAYS = 14  # how long a copy may be downloaded (settings: requests.link_days)
PAGES = re.compile(r"^\s*\d{1,5}(\s*-\s*\d{1,5})?(\s*[,;]\s*\d{1,5}(\s*-\s*\d{1,5})?)*\s*$")
HIDDEN_ACCESS = ("staff", "restricted")  # documents no patron sees: no copy asked either
GONE = ("lost", "withdrawn")
LANGUAGES = ("vi", "en")  # the patron's, kept for their e-mail (notices/texts.py)


def _text(value, limit, code, message, required=True, minimum=1):
    text = (value or "").strip() if isinstance(value, str) or value is None else str(value)
    if required and len(text) < minimum:
        raise Invalid(code, message)
    if len(text) > limit:
        raise Invalid("too_long", N_("%(text)s… is too long: at most %(limit)s characters."),
                      text=text[:20], limit=limit)
    return text or None


def _pages(text, page_count=None):
    """"3-7, 12" checked: numbers from 1, ranges forward, within the document."""
    pages = _text(text, 255, "no_pages", N_("Say which pages you want, e.g. 3-7, 12."))
    if not PAGES.match(pages):
        raise Invalid("bad_pages", N_("Pages are numbers and ranges, e.g. 3-7, 12."))
    for part in re.split(r"[,;]", pages):
        ends = [int(n) for n in part.split("-")]
        if ends[0] < 1 or ends[-1] < ends[0]:
            raise Invalid("bad_pages", N_("Pages are numbers and ranges, e.g. 3-7, 12."))
        if page_count and ends[-1] > page_count:
            raise Invalid("page_out_of_range", N_("The document has %(count)s pages."),
                          count=page_count)
    return pages


def _handler_for_copy(ctx, bib, document, library):
    """The library that copies: the document's, or one holding the printed book (this
    OPAC's library first; at the hub, the one asked for or the first)."""
    if document is not None:
        return document.library
    holders = sorted({i.library for i in Item.select(Item.library).where(
        (Item.bib == bib.id) & (Item.condition.not_in(GONE)))})
    if not holders:
        raise Refused("no_copy_held", N_("No library of the town holds this book."))
    for choice in (library, ctx.library):
        if choice in holders:
            return choice
    return holders[0]


def _record_of(bib_id, document_id):
    document = None
    if document_id:
        document = DigitalDocument.get_or_none(DigitalDocument.id == document_id)
        if document is None or document.deleted or document.access in HIDDEN_ACCESS:
            raise NotFound("document_not_found", N_("No document %(id)s here."),
                           id=document_id)
        bib_id = document.bib
    bib = Bib.get_or_none(Bib.id == bib_id) if bib_id else None
    if bib is None:
        raise NotFound("bib_not_found", N_("No record %(id)s here."), id=bib_id or "")
    return bib, document


@events.command
def place(ctx, patron, kind, bib_id=None, document_id=None, pages=None, purpose=None,
          address=None, copyright_ok=False, library=None, actor=None, lang=None):
    """A patron's request. The copyright note must have been accepted (`copyright_ok`):
    copies are for study and research, as the law allows. `lang` is the language the
    patron asked in (vi, en): the e-mail that says the copy is ready is written in it."""
    if kind not in states.KINDS:
        raise Invalid("bad_kind", N_("A request is a copy of pages or a loan by post."))
    bib, document = _record_of(bib_id, document_id if kind == "copy" else None)
    body = {"request_id": new_id(), "patron_id": patron.id, "kind": kind, "bib_id": bib.id,
            "document_id": document.id if document else None, "title": bib.title,
            "at": ctx.clock.iso_now(), "actor": actor or f"patron:{patron.card}"}
    if lang in LANGUAGES:
        body["lang"] = lang
    if kind == "copy":
        if not copyright_ok:
            raise Invalid("copyright_not_accepted", N_(
                "Read the copyright note and accept it: the copy is for your own study "
                "or research."))
        body["pages"] = _pages(pages, document.page_count if document else None)
        body["purpose"] = _text(purpose, 500, "no_purpose",
                                N_("Say what the copy is for (study, research…)."))
        body["library"] = _handler_for_copy(ctx, bib, document, library)
    else:
        body["address"] = _text(address, 300, "no_address", N_(
            "Write the full postal address: house number, street, ward, town."), minimum=10)
        body["library"] = patron.library  # the address is personal data: it stays home
        _check_postal(patron, bib)
    if body["library"] != ctx.library and ctx.role != "hub":
        raise Refused("other_library_request", N_(
            "Library %(library)s handles this request: ask on its own site or on the "
            "town's digital library."), library=body["library"])
    events.record(ctx, "request.placed", body, library=body["library"])
    return RemoteRequest.get_by_id(body["request_id"])


def _check_postal(patron, bib):
    held = Item.select().where((Item.bib == bib.id) & (Item.library == patron.library)
                               & Item.condition.not_in(GONE)).exists()
    if not held:
        raise Refused("not_held_at_home", N_(
            "Your library (%(library)s) has no copy of this book to send by post."),
            library=patron.library)
    waiting = RemoteRequest.select().where(
        (RemoteRequest.patron == patron.id) & (RemoteRequest.bib == bib.id)
        & (RemoteRequest.kind == "postal_loan")
        & RemoteRequest.state.in_(("requested", "accepted", "lent"))).exists()
    if waiting:
        raise Refused("already_asked", N_("You already asked for this book by post."))


def get(ctx, request_id):
    """A request this node holds and may show (a branch: its library's)."""
    req = RemoteRequest.get_or_none(RemoteRequest.id == str(request_id or ""))
    if req is None or req.state == "" or (ctx.role != "hub" and req.library != ctx.library):
        raise NotFound("request_not_found", N_("No request %(id)s here."), id=request_id)
    return req


def of_patron(ctx, patron, request_id):
    req = RemoteRequest.get_or_none(RemoteRequest.id == str(request_id or ""))
    if req is None or req.patron != patron.id or req.state == "":
        raise NotFound("request_not_found", N_("No request %(id)s here."), id=request_id)
    return req


def mine(patron):
    return list(RemoteRequest.select().where((RemoteRequest.patron == patron.id)
                                             & (RemoteRequest.state != ""))
                .order_by(RemoteRequest.placed_hlc.desc()))


def queue(ctx, library=None, everything=False):
    """The desk's queue: its library's open requests, oldest first (the hub: the
    town's, or one library's)."""
    where = RemoteRequest.state != ""
    if ctx.role != "hub" or library:
        where &= RemoteRequest.library == (library if ctx.role == "hub" else ctx.library)
    if not everything:
        where &= RemoteRequest.state.in_(states.OPEN)
    return list(RemoteRequest.select().where(where).order_by(RemoteRequest.placed_hlc))


def _handled_here(ctx, req):
    if ctx.role != "hub" and req.library != ctx.library:
        raise Forbidden("other_library_request", N_(
            "This request is library %(library)s's: only its staff handle it."),
            library=req.library)


def _move(ctx, req, action, actor, **extra):
    states.check(req.kind, req.state, action)
    event = states.MOVES[action][3]
    events.record(ctx, event, {"request_id": req.id, "library": req.library,
                               "at": ctx.clock.iso_now(), "actor": actor, **extra},
                  library=req.library)
    return RemoteRequest.get_by_id(req.id)


@events.command
def accept(ctx, request_id, actor=None):
    req = get(ctx, request_id)
    _handled_here(ctx, req)
    return _move(ctx, req, "accept", actor)


@events.command
def refuse(ctx, request_id, reason, actor=None):
    req = get(ctx, request_id)
    _handled_here(ctx, req)
    why = _text(reason, 500, "no_reason", N_("Say why the request is refused: the patron "
                                              "reads it."))
    return _move(ctx, req, "refuse", actor, reason=why)


@events.command
def cancel(ctx, patron, request_id):
    """The patron withdraws a request the library has not yet answered with a copy."""
    req = of_patron(ctx, patron, request_id)
    if ctx.role != "hub" and req.library != ctx.library:
        raise Refused("other_library_request", N_(
            "Library %(library)s handles this request: ask on its own site or on the "
            "town's digital library."), library=req.library)
    return _move(ctx, req, "cancel", f"patron:{patron.card}")


def check_pdf(path):
    """(pages, size) of a PDF to send, or Invalid: it must open as a PDF (PDFium, as the
    digital library reads them), have pages, and be no bigger than MAX_PDF."""
    import pypdfium2

    size = path.stat().st_size
    if size > MAX_PDF:
        raise Invalid("pdf_too_big", N_("The PDF is %(size)s MB: at most %(limit)s MB."),
                      size=round(size / 1024 ** 2, 1), limit=MAX_PDF // 1024 ** 2)
    count = 0
    try:
        with open(path, "rb") as f:
            if f.read(5) == b"%PDF-":
                doc = pypdfium2.PdfDocument(str(path))
                count = len(doc)
                doc.close()
    except (pypdfium2.PdfiumError, OSError, ValueError):
        count = 0
    if count < 1:
        raise Invalid("not_a_pdf", N_("The file is not a PDF that opens: scan the pages "
                                      "to PDF and attach that."))
    return count, size


@events.command
def attach(ctx, request_id, path, actor=None):
    """The scanned pages, as a PDF, kept under its content's name (digital/store) and
    offered to the patron until the link expires."""
    from ..digital import store

    req = get(ctx, request_id)
    _handled_here(ctx, req)
    states.check(req.kind, req.state, "attach")
    count, _size = check_pdf(path)
    sha, size, _target = store.put(ctx.files, path, "pdf")
    days = int((ctx.settings.get("requests") or {}).get("link_days") or LINK_DAYS)
    expires = (ctx.clock.effective_now() + timedelta(days=days)).isoformat(
        timespec="seconds")
    return _move(ctx, req, "attach", actor, sha256=sha, size=size, page_count=count,
                 expires_at=expires)


@events.command
def lend(ctx, request_id, barcode, actor=None):
    """Lend the copy to be posted: an ordinary loan, marked by post, due the postal days
    later (the loan rule's `postal_days`)."""
    req = get(ctx, request_id)
    _handled_here(ctx, req)
    states.check(req.kind, req.state, "lend")
    item = Item.get_or_none((Item.barcode == (barcode or "").strip())
                            & (Item.library == req.library))
    if item is None or item.bib_id != req.bib:
        raise Invalid("wrong_copy", N_("Scan a copy of %(title)s of this library."),
                      title=req.title)
    patron = Patron.get_by_id(req.patron)
    loan = circulation.checkout(ctx, patron.card, item.barcode, actor=actor, by_post=req.id)
    return _move(ctx, req, "lend", actor, loan_id=loan["loan_id"],
                 due_date=loan["due_date"])


def of_loan(loan_id):
    """The postal request a loan was lent for, if any."""
    if not loan_id:
        return None
    return RemoteRequest.get_or_none((RemoteRequest.loan_id == loan_id)
                                     & (RemoteRequest.kind == "postal_loan"))


@events.command
def returned(ctx, loan_id, actor=None):
    """A check-in closed `loan_id`: when it was lent by post, its request is back (at
    the library that handles it; elsewhere the loan's return says it already)."""
    req = of_loan(loan_id)
    if req is None:
        return None
    if req.state == "lent" and (ctx.role == "hub" or req.library == ctx.library):
        req = _move(ctx, req, "return", actor)
    return req


@events.command
def close_returned(ctx, request_id, actor=None):
    """Staff close a loan by post whose copy came back at another library's desk (where
    the request is not held, so the return could not close it)."""
    from ..models import Loan

    req = get(ctx, request_id)
    _handled_here(ctx, req)
    states.check(req.kind, req.state, "return")
    loan = Loan.get_or_none(Loan.id == req.loan_id) if req.loan_id else None
    if loan is None or loan.returned_at is None:
        raise Refused("still_on_loan", N_("The copy is still on loan: scan it at Returns "
                                          "when it comes back."))
    return _move(ctx, req, "return", actor)


@events.command
def delivered(ctx, req):
    """The patron downloaded the copy: the first download is recorded where the request
    is handled, or at the patron's home library (where its PDF came for them)."""
    if req.state == "ready" and (ctx.role == "hub" or req.library == ctx.library
                                 or _home_here(ctx, req)):
        return _move(ctx, req, "download", f"patron:{req.patron}", patron_id=req.patron)
    return req


def _home_here(ctx, req):
    patron = Patron.get_or_none(Patron.id == req.patron)
    return patron is not None and patron.library == ctx.library


def download(ctx, secret, token, request_id, patron, now=None):
    """The request whose PDF the patron may download now, or why not. An expired link
    is recorded as such (once) where the request is handled."""
    req = of_patron(ctx, patron, request_id)
    if req.kind != "copy" or req.state not in ("ready", "delivered", "expired"):
        raise Refused("no_copy_yet", N_("There is no copy to download for this request."))
    now = now or ctx.clock.effective_now()
    try:
        links.check(secret, token, req, patron.id, now)
    except Refused:
        if req.state != "expired" and (ctx.role == "hub" or req.library == ctx.library):
            expire(ctx, req.id)
        raise
    if req.state == "expired":  # expired early by staff: the link says so too
        raise Refused("link_expired", N_(
            "This download link expired on %(day)s. Ask the library to send the copy "
            "again."), day=links._dmy(req.updated_at))
    return req


@events.command
def expire(ctx, request_id, actor=None):
    req = get(ctx, request_id)
    _handled_here(ctx, req)
    return _move(ctx, req, "expire", actor)


@events.command
def expire_due(ctx, now=None):
    """Every copy of this library (the hub: the town's) whose link has run out: expired.
    Returns how many."""
    now = now or ctx.clock.effective_now()
    done = 0
    for req in queue(ctx):
        expires = links.expiry(req)
        if req.kind == "copy" and req.state in ("ready", "delivered") and expires \
                and now >= expires:
            _move(ctx, req, "expire", "system")
            done += 1
    return done
