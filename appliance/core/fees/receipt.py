"""A printable receipt (biên lai) for a fee paid or waived: A6, DejaVu Sans (every
Vietnamese letter), the amount written as 150.000 ₫. The words come translated from the
caller, as the web layer speaks the reader's language and the core speaks none."""

from ..models import Bib, Item, Library, Patron
from . import vnd


def facts(fee):
    """What a receipt says besides its words: library, patron, copy, amount, when, who."""
    item = Item.get_or_none(Item.id == fee.item) if fee.item else None
    bib = Bib.get_or_none(Bib.id == item.bib_id) if item else None
    patron = Patron.get_or_none(Patron.id == fee.patron)
    library = Library.get_or_none(Library.code == fee.library)
    return {"library": library.name if library else fee.library,
            "patron": f"{patron.name} ({patron.card})" if patron else "",
            "copy": f"{bib.title if bib else ''} — {item.barcode}" if item else "",
            "amount": vnd(fee.amount), "receipt": fee.id[:8].upper(),
            "charged_at": fee.charged_at, "settled_at": fee.settled_at or "",
            "settled_by": fee.settled_by or "", "reason": fee.reason or ""}


def write_pdf(fee, words, out, when=lambda iso: iso):
    """The receipt of `fee` into the file object `out`. `words`: the labels by key (title,
    library, patron, copy, kind, amount, state, date, staff, reason, number, and the
    kind's and state's own words)."""
    from reportlab.lib.pagesizes import A6
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

    from .. import pdf_fonts

    pdf_fonts.register()
    said = facts(fee)
    body = ParagraphStyle("body", fontName="DejaVu", fontSize=8.5, leading=11)
    bold = ParagraphStyle("bold", parent=body, fontName="DejaVu-Bold")
    title = ParagraphStyle("title", parent=bold, fontSize=12, leading=15, alignment=1)
    rows = [(words["number"], said["receipt"]), (words["patron"], said["patron"]),
            (words["copy"], said["copy"]), (words["kind"], words[fee.kind]),
            (words["amount"], said["amount"]), (words["state"], words[fee.state]),
            (words["date"], when(said["settled_at"])), (words["staff"], said["settled_by"])]
    if fee.reason:
        rows.append((words["reason"], said["reason"]))
    table = Table([[Paragraph(k, bold), Paragraph(str(v), body)] for k, v in rows],
                  colWidths=[28 * mm, 70 * mm])
    doc = SimpleDocTemplate(out, pagesize=A6, leftMargin=8 * mm, rightMargin=8 * mm,
                            topMargin=8 * mm, bottomMargin=8 * mm, title=words["title"])
    doc.build([Paragraph(said["library"], bold), Spacer(1, 2 * mm),
               Paragraph(words["title"], title), Spacer(1, 3 * mm), table])
