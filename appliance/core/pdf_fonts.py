"""The font every PDF of the appliance is set in: DejaVu Sans, which has every Vietnamese
letter, registered with ReportLab as "DejaVu" and "DejaVu-Bold"."""

from pathlib import Path

from .errors import N_, Invalid

FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"),
             # the wheel's own copy, beside this package when installed
             Path(__file__).resolve().parents[2] / "devices" / "fonts"]


def register():
    """Register DejaVu with ReportLab, once; a PDF writer calls it before it sets text."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "DejaVu" in pdfmetrics.getRegisteredFontNames():
        return
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdfmetrics.registerFont(TTFont("DejaVu", str(regular)))
            pdfmetrics.registerFont(TTFont("DejaVu-Bold", str(bold)))
            return
    raise Invalid("no_font", N_("The Vietnamese font (DejaVu Sans) is not installed: "
                                "install fonts-dejavu-core."))
