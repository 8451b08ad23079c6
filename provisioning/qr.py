"""The enrolment token as a QR code, and a printable sheet to tape inside the Pi's case.

The QR carries the same JSON a token file on the boot partition holds
(`{"hub": ..., "token": ..., "library": ..., "expires_at": ...}`), so the Pi's
setup page can read either a scanned code or the file.
"""

from __future__ import annotations

import io
import json

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def enrolment_text(hub: str, token: str, library: str, expires_at: str) -> str:
    return json.dumps({"hub": hub, "token": token, "library": library,
                       "expires_at": expires_at}, separators=(",", ":"), sort_keys=True)


def qr_image(text: str, box_size: int = 8) -> Image.Image:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(text.encode("utf-8"))
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("L")


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def qr_png(text: str, box_size: int = 8) -> bytes:
    return png_bytes(qr_image(text, box_size))


def _font(path, size):
    try:
        return ImageFont.truetype(path, size)
    except OSError:  # no DejaVu installed: still printable, if plainer
        return ImageFont.load_default(size)


def printable_sheet(text: str, title: str, lines: list[str], width: int = 1240) -> Image.Image:
    """An A6-ish sheet at 300 dpi: title, the QR, then lines (library, expiry, steps)."""
    code = qr_image(text, box_size=10)
    if code.width > width - 80:
        code = code.resize((width - 80, width - 80), Image.NEAREST)
    title_font, body_font = _font(FONT_BOLD, 56), _font(FONT, 40)
    height = 120 + code.height + 60 + 60 * len(lines) + 60
    sheet = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(sheet)
    draw.text((width // 2, 60), title, font=title_font, fill=0, anchor="mm")
    sheet.paste(code, ((width - code.width) // 2, 120))
    y = 120 + code.height + 40
    for line in lines:
        draw.text((60, y), line, font=body_font, fill=0)
        y += 60
    return sheet
