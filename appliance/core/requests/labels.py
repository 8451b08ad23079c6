"""What goes in the parcel of a loan by post, printed with ReportLab (DejaVu, every
Vietnamese letter): the address label on an A6 sheet or on a sheet of A4 labels (two
across, four down), and the slip that says what was lent, when it is due back and where
to send it. `tr` gives the words in the desk's language."""

from reportlab.lib.pagesizes import A4, A6
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from .. import pdf_fonts
from ..models import Library, Patron

SHEET_COLS, SHEET_ROWS = 2, 4
LINE = 5.2 * mm


def _library(code):
    lib = Library.get_or_none(Library.code == code)
    return (lib.name if lib and lib.name else code), code


def _wrap(c, text, width, font, size):
    """Lines of `text` that fit `width` (words kept whole)."""
    lines, line = [], ""
    for word in (text or "").replace("\n", " , ").split():
        trial = f"{line} {word}".strip()
        if c.stringWidth(trial, font, size) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return [x.strip(" ,") for x in lines]


def _label(c, req, x, y, w, h, tr):
    """One address label with its bottom-left corner at (x, y)."""
    name, code = _library(req.library)
    patron = Patron.get_or_none(Patron.id == req.patron)
    pad = 5 * mm
    c.setFont("DejaVu", 7.5)
    c.drawString(x + pad, y + h - pad - 2 * mm, tr("From: %(library)s", library=f"{name}"))
    c.setFont("DejaVu-Bold", 12)
    top = y + h - pad - 11 * mm
    c.drawString(x + pad, top, tr("To: %(name)s", name=patron.name if patron else ""))
    c.setFont("DejaVu", 11)
    for n, line in enumerate(_wrap(c, req.address, w - 2 * pad, "DejaVu", 11)[:5], 1):
        c.drawString(x + pad, top - n * LINE * 1.1, line)
    c.setFont("DejaVu", 7)
    c.drawString(x + pad, y + pad, tr("Loan by post %(id)s (%(code)s)", id=req.id[:8],
                                      code=code))


def a6_label(req, fh, tr):
    pdf_fonts.register()
    c = canvas.Canvas(fh, pagesize=A6)
    w, h = A6
    _label(c, req, 0, 0, w, h, tr)
    c.showPage()
    c.save()


def label_sheet(reqs, fh, tr):
    """Labels for several parcels, in order, on A4 sheets of 2 x 4."""
    pdf_fonts.register()
    c = canvas.Canvas(fh, pagesize=A4)
    w, h = A4[0] / SHEET_COLS, A4[1] / SHEET_ROWS
    for n, req in enumerate(reqs):
        if n and n % (SHEET_COLS * SHEET_ROWS) == 0:
            c.showPage()
        at = n % (SHEET_COLS * SHEET_ROWS)
        col, row = at % SHEET_COLS, at // SHEET_COLS
        _label(c, req, col * w, A4[1] - (row + 1) * h, w, h, tr)
    c.showPage()
    c.save()


def slip(req, item_barcode, fh, tr):
    """The slip in the parcel: what, for whom, due when, and how to send it back."""
    pdf_fonts.register()
    name, code = _library(req.library)
    patron = Patron.get_or_none(Patron.id == req.patron)
    c = canvas.Canvas(fh, pagesize=A6)
    w, h = A6
    x, y = 8 * mm, h - 12 * mm
    c.setFont("DejaVu-Bold", 12)
    c.drawString(x, y, tr("LOAN BY POST"))
    c.setFont("DejaVu", 9)
    due = req.due_date or ""
    rows = [f"{name} ({code})",
            tr("Borrower: %(name)s, card %(card)s", name=patron.name if patron else "",
               card=patron.card if patron else ""),
            tr("Copy: %(barcode)s", barcode=item_barcode or "")]
    rows += _wrap(c, tr("Title: %(title)s", title=req.title), w - 2 * x, "DejaVu", 9)
    rows += [tr("Due back: %(day)s", day=f"{due[8:10]}/{due[5:7]}/{due[:4]}" if due else ""),
             ""]
    rows += _wrap(c, tr("Send it back by post to the library, or hand it in at any "
                        "library of the town. Keep this slip."), w - 2 * x, "DejaVu", 9)
    for n, line in enumerate(rows, 1):
        c.drawString(x, y - n * LINE, line)
    c.showPage()
    c.save()
