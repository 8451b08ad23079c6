"""Printed notice slips (A4, ReportLab, DejaVu for Vietnamese): one slip per patron with
every notice due (holds to pick up, copies overdue), to hand over at the desk, or, for
a school, class by class, each class from a new page, for the teacher to hand out. A
child's slip is addressed to the guardian too. Slips are cut along the dashed line."""

from dataclasses import dataclass
from datetime import date
from itertools import groupby

from .core import pdf_fonts
from .core.notices import due
from .core.notices.texts import dmy
from .core.policy import library_name


@dataclass
class Words:
    """The words printed, in the caller's language (Vietnamese unless told)."""
    title: str = "PHIẾU BÁO BẠN ĐỌC"
    patron: str = "Bạn đọc"
    card: str = "Thẻ"
    school_class: str = "Lớp"
    guardian: str = "Kính gửi phụ huynh"
    printed: str = "Ngày in"
    hold_ready: str = "Sách đặt đã có, mời đến nhận trước hết ngày %(date)s"
    overdue: str = "Quá hạn trả từ ngày %(date)s, xin mang trả hoặc gia hạn"
    barcode: str = "Mã sách"
    no_class: str = "Chưa xếp lớp"
    none: str = "Không có phiếu báo nào."


def chosen(ctx, school_class=None, cards=(), today=None):
    """The notices due here, of a class or of these cards (all when neither is given)."""
    found = due.now_due(ctx, today)
    if school_class:
        found = [n for n in found if (n.patron.school_class or "") == school_class]
    if cards:
        wanted = {c.strip().upper() for c in cards}
        found = [n for n in found if n.patron.card_key in wanted or n.patron.card in wanted]
    return found


def classes(notices):
    return sorted({n.patron.school_class or "" for n in notices})


def _slip(patron, notices, lib, words, today, styles):
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table, TableStyle

    body, bold, small = styles
    facts = f"<b>{words.patron}:</b> {_x(patron.name)} &nbsp; <b>{words.card}:</b> {_x(patron.card)}"
    if patron.school_class:
        facts += f" &nbsp; <b>{words.school_class}:</b> {_x(patron.school_class)}"
    parts = [Paragraph(f"{_x(lib)} — {words.title}", bold), Paragraph(facts, body)]
    if patron.guardian and patron.category == "child":
        parts.append(Paragraph(f"{words.guardian}: {_x(patron.guardian)}", body))
    rows = []
    for n in notices:
        said = (words.hold_ready if n.kind == "hold_ready" else words.overdue) % {
            "date": dmy(n.date)}
        rows.append([Paragraph(f"<b>{_x(n.title)}</b><br/>{said}", body),
                     Paragraph(f"{words.barcode}: {_x(n.barcode)}", small)])
    table = Table(rows, colWidths=[135 * mm, 40 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LINEBELOW", (0, 0), (-1, -2), 0.3, "#999999")]))
    parts += [Spacer(1, 2 * mm), table,
              Paragraph(f"{words.printed}: {today.strftime('%d/%m/%Y')}", small),
              _cut_line(), Spacer(1, 3 * mm)]
    return KeepTogether(parts)


def _x(text):
    from xml.sax.saxutils import escape
    return escape(str(text or ""))


def _cut_line():
    """A dashed line across the page, to cut the slips apart."""
    from reportlab.platypus import Flowable

    class CutLine(Flowable):
        def wrap(self, width, height):
            self.width = width
            return width, 10

        def draw(self):
            self.canv.setDash(4, 3)
            self.canv.setStrokeGray(0.5)
            self.canv.line(0, 5, self.width, 5)
    return CutLine()



def write_pdf(ctx, notices, fh, words=None, today=None, by_class=False):
    """Slips for `notices` (as `chosen` gives them); `by_class`: a heading and a new
    page for each class."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

    pdf_fonts.register()
    words = words or Words()
    today = today or ctx.clock.today() or date.today()
    lib = library_name(ctx)
    body = ParagraphStyle("body", fontName="DejaVu", fontSize=10, leading=13)
    bold = ParagraphStyle("bold", parent=body, fontName="DejaVu-Bold", fontSize=11.5,
                          leading=15)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=11)
    heading = ParagraphStyle("heading", parent=bold, fontSize=15, leading=20)
    doc = SimpleDocTemplate(fh, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title=words.title)
    story: list = []
    order = sorted(notices, key=lambda n: (n.patron.school_class or "", n.patron.name_sort,
                                           n.patron.id))
    for klass, in_class in groupby(order, key=lambda n: n.patron.school_class or ""):
        if by_class:
            if story:
                story.append(PageBreak())
            story.append(Paragraph(f"{words.school_class} {_x(klass)}" if klass
                                   else words.no_class, heading))
        for _pid, mine in groupby(in_class, key=lambda n: n.patron.id):
            mine = list(mine)
            story.append(_slip(mine[0].patron, mine, lib, words, today, (body, bold, small)))
    if not story:
        story.append(Paragraph(words.none, body))
    doc.build(story)
