"""Exports a clerk sends on: XLSX (openpyxl), PDF laid out as an official report
(ReportLab, with a Vietnamese font), CSV. A report is first made a `Sheet` (title,
heading lines, tables, whether it is signed), already in the reader's language; each
writer only lays a Sheet out."""

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from .. import pdf_fonts
from ..errors import N_, Invalid
from . import document

FORMATS = ("xlsx", "pdf", "csv")


@dataclass
class Table:
    heading: str
    header: list
    rows: list  # lists of cells
    levels: list = field(default_factory=list)  # indent of each row's first cell
    widths: list = field(default_factory=list)  # relative widths for the PDF


@dataclass
class Sheet:
    title: str
    org: str  # who issues it (top left of the official layout)
    lines: list  # under the title: library, period, when made
    tables: list
    place_date: str = ""
    signed: bool = True
    notes: list = field(default_factory=list)
    motto: list = field(default_factory=list)  # the national motto, in the reader's words
    signature: list = field(default_factory=list)  # (title, hint) left, then right


def format_of(path):
    ending = Path(str(path)).suffix.lower().lstrip(".")
    if ending not in FORMATS:
        raise Invalid("bad_format", N_("Say the format by the file's ending: .xlsx, .pdf or "
                                       ".csv (not %(name)s)."), name=Path(str(path)).name)
    return ending


def write(sheet, fmt, target):
    """Write `sheet` as `fmt` to a path or a binary stream."""
    writer = {"xlsx": to_xlsx, "pdf": to_pdf, "csv": to_csv}[fmt]
    if hasattr(target, "write"):
        writer(sheet, target)
        return
    with open(target, "wb") as f:
        writer(sheet, f)


def as_bytes(sheet, fmt):
    buffer = io.BytesIO()
    write(sheet, fmt, buffer)
    return buffer.getvalue()


CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}


# Sheets of the two reports.

def _cell(value, tr):
    return document.shown(value, tr)


def _change(value):
    return "" if value is None else f"{value:+.1f}%"


def library_sheet(report, tr, org=""):
    p, before = report["period"], report["previous"]
    rows, levels = [], []
    for line in report["lines"]:
        rows.append([document.say(tr, line), _cell(line["now"], tr),
                     _cell(line["before"], tr), _change(line["change"])])
        levels.append(line["level"])
    table = Table(tr("Figures"), [tr("Figure"), _period_words(p, tr), _period_words(before, tr),
                                  tr("Change")], rows, levels, [46, 19, 19, 16])
    lib = report["library"]
    return Sheet(tr("LIBRARY STATISTICS REPORT"), org or lib["name"],
                 [f"{lib['name']} ({lib['code']})",
                  tr("Period: %(start)s to %(end)s", start=_dmy(p["from"]), end=_dmy(p["to"])),
                  tr("Beside the same period a year earlier: %(start)s to %(end)s",
                     start=_dmy(before["from"]), end=_dmy(before["to"]))],
                 [table], place_date=tr("Made on %(day)s", day=_dmy(report["made"])),
                 motto=[tr(m) for m in MOTTO], signature=[tr(s) for s in SIGNATURE])


# Columns of the town's report, each a figure every library has.
TOWN_COLUMNS = [
    ("visits.total", N_("Visits")), ("items_served.total", N_("Items served")),
    ("loans", N_("Loans in the period")), ("cards.issued", N_("Cards issued")),
    ("patrons_registered.total", N_("Registered patrons")),
    ("patrons_active.total", N_("Active patrons")),
    ("collection.titles", N_("Titles")), ("collection.copies", N_("Copies held")),
    ("acquisitions.copies", N_("Copies acquired")),
]


def town_sheet(report, tr, org=""):
    """The town's report; `org`: who issues it (the setting `report_issuer`, by default
    the culture centre)."""
    p = report["period"]
    header = [tr("Library"), tr("Kind of library"), tr("Commune / ward"), tr("Last sync")] + [
        tr(label) for _, label in TOWN_COLUMNS]
    rows = []
    for lib in report["libraries"]:
        mark = " *" if lib["stale"] else ""
        name = lib["name"] + (f" ({tr('key library')})" if lib["key_library"] else "")
        rows.append([name + mark, tr(_kind(lib["kind"])), lib["unit_name"] or "",
                     (lib["last_sync"] or tr("never"))[:10]]
                    + [_cell(document._get(lib["figures"], k), tr) for k, _ in TOWN_COLUMNS])
    rows.append([tr("Whole town"), "", "", ""] + [
        _cell(document._get(report["town"], k), tr) for k, _ in TOWN_COLUMNS])
    libraries = Table(tr("Figures of each library"), header, rows, [0] * len(rows),
                      [22, 9, 12, 9] + [6] * len(TOWN_COLUMNS))
    indicators = Table(tr("The plan's indicators"), [
        tr("Indicator"), tr("Value"), tr("Counted"), tr("Target"), tr("Progress")], [
        [tr(i["label"]), _percent(i["value"], tr),
         f"{_count(i['numerator'], tr)} / {_count(i['denominator'], tr)}",
         f"{i['target']}%", _percent(i["progress"], tr)] for i in report["indicators"]],
        [], [46, 14, 14, 12, 14])
    lines = [tr("Period: %(start)s to %(end)s", start=_dmy(p["from"]), end=_dmy(p["to"]))]
    stale = [lib["name"] for lib in report["libraries"] if lib["stale"]]
    notes = [tr("* not synced since %(day)s: its figures may be incomplete.",
                day=_dmy(report["stale_since"]))] if stale else []
    notes += [f"{tr(i['label'])}: {tr(i['note'])}" for i in report["indicators"] if i["note"]]
    return Sheet(tr("SEMI-ANNUAL REPORT ON THE TOWN'S LIBRARIES"), org or tr("Culture centre"),
                 lines, [libraries, indicators], notes=notes,
                 place_date=tr("Made on %(day)s", day=_dmy(report["made"])),
                 motto=[tr(m) for m in MOTTO], signature=[tr(s) for s in SIGNATURE])


def _kind(kind):
    from .town import KINDS
    return KINDS.get(kind, kind)


def _percent(value, tr):
    return tr(document.NO_DATA) if value is None else f"{value:.1f}%"


def _count(value, tr):
    return "—" if value is None else str(value)


def _dmy(iso):
    return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}" if iso and len(iso) >= 10 else (iso or "")


def _period_words(p, tr):
    """A period's short name for a column: 2026-03, 2026-Q1, 2026-H1, 2026, or its days."""
    if p.get("kind") != "range":
        return p["name"]
    return f"{_dmy(p['from'])}–{_dmy(p['to'])}"


# Writers.

def to_csv(sheet, stream):
    """UTF-8 with a byte-order mark, so Excel opens Vietnamese right."""
    text = io.StringIO()
    w = csv.writer(text)
    w.writerow([sheet.title])
    for line in sheet.lines:
        w.writerow([line])
    for table in sheet.tables:
        w.writerow([])
        w.writerow([table.heading])
        w.writerow(table.header)
        w.writerows(table.rows)
    for note in sheet.notes:
        w.writerow([note])
    stream.write(b"\xef\xbb\xbf" + text.getvalue().encode("utf-8"))


def to_xlsx(sheet, stream):
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    ws = book.active
    ws.title = sheet.title[:31] or "Report"
    ws.append([sheet.org])
    ws.append([sheet.title])
    ws["A2"].font = Font(bold=True, size=14)
    for line in sheet.lines:
        ws.append([line])
    for table in sheet.tables:
        ws.append([])
        ws.append([table.heading])
        ws.cell(ws.max_row, 1).font = Font(bold=True)
        ws.append(table.header)
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for n, row in enumerate(table.rows):
            ws.append(row)  # numbers stay numbers: the clerk adds them up in Excel
            level = table.levels[n] if n < len(table.levels) else 0
            ws.cell(ws.max_row, 1).alignment = Alignment(indent=2 * level)
    for note in sheet.notes:
        ws.append([note])
    ws.column_dimensions["A"].width = 48
    for letter in "BCDEFGHIJKLM":
        ws.column_dimensions[letter].width = 16
    book.save(stream)


def to_pdf(sheet, stream):
    """An official report: the issuer and the national motto at the top, the title, the
    tables, then the place and date and the signature block."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable

    pdf_fonts.register()
    wide = any(len(t.header) > 5 for t in sheet.tables)
    size = landscape(A4) if wide else A4
    doc = SimpleDocTemplate(stream, pagesize=size, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm, title=sheet.title)
    body = ParagraphStyle("body", fontName="DejaVu", fontSize=8 if wide else 9.5, leading=11)
    bold = ParagraphStyle("bold", parent=body, fontName="DejaVu-Bold")
    centre = ParagraphStyle("centre", parent=body, alignment=TA_CENTER)
    centre_bold = ParagraphStyle("cb", parent=bold, alignment=TA_CENTER)
    title = ParagraphStyle("title", parent=centre_bold, fontSize=14, leading=18,
                           spaceBefore=8, spaceAfter=6)
    width = size[0] - 30 * mm

    def p(text, style=body):
        return Paragraph(escape(str(text)), style)

    top = PdfTable([[p(sheet.org.upper(), centre_bold), p(sheet.motto[0], centre_bold)],
                    [p("", centre), p(sheet.motto[1], centre_bold)],
                    [p("", centre), p(sheet.place_date, centre)]],
                   colWidths=[width * 0.45, width * 0.55])
    story = [top, Spacer(1, 4 * mm), p(sheet.title, title)]
    story += [p(line, centre) for line in sheet.lines]
    for table in sheet.tables:
        story += [Spacer(1, 4 * mm), p(table.heading, bold), Spacer(1, 1.5 * mm)]
        weights = table.widths or [1] * len(table.header)
        cols = [width * w / sum(weights) for w in weights]
        data = [[p(h, bold) for h in table.header]]
        for n, row in enumerate(table.rows):
            level = table.levels[n] if n < len(table.levels) else 0
            first = ParagraphStyle(f"l{level}", parent=body, leftIndent=8 * level)
            data.append([p(row[0], first)] + [p(c) for c in row[1:]])
        grid = PdfTable(data, colWidths=cols, repeatRows=1)
        grid.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.black),
                                  ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                                  ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story.append(grid)
    for note in sheet.notes:
        story.append(p(note))
    if sheet.signed:
        story += [Spacer(1, 8 * mm), PdfTable(
            [[p(sheet.signature[0], centre_bold), p(sheet.signature[2], centre_bold)],
             [p(sheet.signature[1], centre), p(sheet.signature[3], centre)]],
            colWidths=[width / 2, width / 2])]
    doc.build(story)


# The motto and the signature block are words of the administration, translated like
# every other.
MOTTO = [N_("SOCIALIST REPUBLIC OF VIET NAM"), N_("Independence - Freedom - Happiness")]
SIGNATURE = [N_("PREPARED BY"), N_("(signature and full name)"), N_("HEAD OF THE UNIT"),
             N_("(signature, full name and seal)")]
