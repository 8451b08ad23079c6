"""Barcode labels: Code 128 and 14-digit Codabar (Luhn check digit), label and
spine-label sheets rendered with Pillow (A4 at 300 dpi, saved as PNG or PDF)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .core.barcodes import luhn_digit

# Pillow (and the printer's fonts) are imported when labels are made, not with the web
# app: the server holds them in memory only once someone prints.
if TYPE_CHECKING:
    from PIL import Image

DPI = 300
A4 = (2480, 3508)  # pixels at 300 dpi

# Code 128 symbol widths (bar, space, bar, space, bar, space[, bar]), values 0..106.
CODE128 = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 "
    "112232 122132 122231 113222 123122 123221 223211 221132 221231 213212 223112 312131 "
    "311222 321122 321221 312212 322112 322211 212123 212321 232121 111323 131123 131321 "
    "112313 132113 132311 211313 231113 231311 112133 112331 132131 113123 113321 133121 "
    "313121 211331 231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 "
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 112412 122114 "
    "122411 142112 142211 241211 221114 413111 241112 134111 111242 121142 121241 114212 "
    "124112 124211 411212 421112 421211 212141 214121 412121 111143 111341 131141 114113 "
    "114311 411113 411311 113141 114131 311141 411131 211412 211214 211232 2331112"
).split()
START_B, START_C, CODE_B, CODE_C, STOP = 104, 105, 100, 99, 106

# Codabar: 7 elements (bar first), 1 = wide.
CODABAR = {
    "0": "0000011", "1": "0000110", "2": "0001001", "3": "1100000", "4": "0010010",
    "5": "1000010", "6": "0100001", "7": "0100100", "8": "0110000", "9": "1001000",
    "-": "0001100", "$": "0011000", ":": "1000101", "/": "1010001", ".": "1010100",
    "+": "0010101", "A": "0011010", "B": "0101001", "C": "0001011", "D": "0001110",
}


class LabelError(ValueError):
    """Text that cannot be encoded in the chosen symbology."""


def luhn_ok(number: str) -> bool:
    return number.isdigit() and len(number) > 1 and luhn_digit(number[:-1]) == number[-1]


def library_number(kind: str, institution: str, seq: int) -> str:
    """14-digit library barcode: kind (2 patron, 3 item), 4-digit institution,
    8-digit sequence, Luhn check digit."""
    if kind not in ("2", "3") or not (institution.isdigit() and len(institution) == 4):
        raise LabelError("kind is 2 or 3 and the institution 4 digits")
    if not 0 <= seq < 10**8:
        raise LabelError("sequence out of range")
    body = f"{kind}{institution}{seq:08d}"
    return body + luhn_digit(body)


def code128_values(text: str) -> list[int]:
    """Symbol values including start, check and stop; code set C for digit runs."""
    if not text or any(not 32 <= ord(c) < 127 for c in text):
        raise LabelError("Code 128 labels take printable ASCII text")
    values, i, current = [], 0, None
    while i < len(text):
        run = len(text[i:]) - len(text[i:].lstrip("0123456789"))
        if run >= 4 and (run % 2 == 0 or current == CODE_C or i > 0):
            if current != CODE_C:
                values.append(START_C if current is None else CODE_C)
                current = CODE_C
            pairs = run // 2
            values += [int(text[i + 2 * k: i + 2 * k + 2]) for k in range(pairs)]
            i += 2 * pairs
            continue
        if current != CODE_B:
            values.append(START_B if current is None else CODE_B)
            current = CODE_B
        values.append(ord(text[i]) - 32)
        i += 1
    check = (values[0] + sum(v * n for n, v in enumerate(values[1:], 1))) % 103
    return values + [check, STOP]


def code128_modules(text: str) -> list[tuple[bool, int]]:
    """(is_bar, width in modules) runs of a Code 128 symbol."""
    runs = []
    for v in code128_values(text):
        runs += [(k % 2 == 0, int(w)) for k, w in enumerate(CODE128[v])]
    return runs


def codabar_modules(text: str, start="A", stop="B", wide=3) -> list[tuple[bool, int]]:
    body = text.upper()
    if not body or any(c not in CODABAR or c in "ABCD" for c in body):
        raise LabelError("Codabar labels take digits and - $ : / . +")
    runs = []
    for n, ch in enumerate(start + body + stop):
        if n:
            runs.append((False, 1))  # inter-character gap
        runs += [(k % 2 == 0, wide if e == "1" else 1) for k, e in enumerate(CODABAR[ch])]
    return runs


def _font(size, bold=False):
    # The Vietnamese-capable font the wheel carries, as on receipts.
    from devices.printer import font as printer_font

    return printer_font("bold" if bold else "regular", size)


def render_barcode(runs, module=3, height=150, quiet=10) -> Image.Image:
    """Black bars on white, a quiet zone of `quiet` modules either side."""
    from PIL import Image, ImageDraw

    width = (sum(w for _, w in runs) + 2 * quiet) * module
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    x = quiet * module
    for is_bar, w in runs:
        if is_bar:
            draw.rectangle([x, 0, x + w * module - 1, height - 1], fill=0)
        x += w * module
    return img


def barcode_image(code, symbology="code128", module=3, height=150) -> Image.Image:
    runs = code128_modules(code) if symbology == "code128" else codabar_modules(code)
    return render_barcode(runs, module, height)


@dataclass
class Label:
    code: str
    title: str = ""
    library: str = ""
    call_number: str = ""


def _fit(draw, text, font, width):
    while text and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…" if len(text) > 2 else ""
    return text


def _paste_centered(page, img, box):
    from PIL import Image

    x0, y0, x1, y1 = box
    if img.width > x1 - x0:
        img = img.resize((x1 - x0, img.height), Image.NEAREST)
    page.paste(img, (x0 + (x1 - x0 - img.width) // 2, y0))


def barcode_sheet(labels, symbology="code128", cols=3, rows=8) -> list[Image.Image]:
    """A4 pages of item/patron labels: library, title, barcode, human text."""
    from PIL import Image, ImageDraw

    pages, cw, ch = [], A4[0] // cols, A4[1] // rows
    small, text = _font(28), _font(34, bold=True)
    per_page = cols * rows
    for start in range(0, len(labels), per_page):
        page = Image.new("L", A4, 255)
        draw = ImageDraw.Draw(page)
        for n, label in enumerate(labels[start:start + per_page]):
            x, y = (n % cols) * cw + 40, (n // cols) * ch + 30
            draw.text((x, y), _fit(draw, label.library, small, cw - 80), font=small, fill=0)
            draw.text((x, y + 36), _fit(draw, label.title, small, cw - 80), font=small, fill=0)
            bar = barcode_image(label.code, symbology, module=3, height=170)
            _paste_centered(page, bar, (x - 30, y + 80, x + cw - 50, y + 250))
            human = label.code if symbology == "code128" else f"A{label.code}B"
            tw = draw.textlength(human, font=text)
            draw.text((x - 40 + (cw - tw) / 2, y + 260), human, font=text, fill=0)
        pages.append(page)
    return pages


def call_number_lines(call_number: str) -> list[str]:
    """'895.9223 NG527D 2019' → ['895.9223', 'NG527D', '2019'] for a spine."""
    return [part for part in (call_number or "").split() if part][:4]


def spine_sheet(labels, cols=8, rows=10) -> list[Image.Image]:
    """A4 pages of spine labels, the call number large, one part per line."""
    from PIL import Image, ImageDraw

    pages, cw, ch = [], A4[0] // cols, A4[1] // rows
    font = _font(44, bold=True)
    per_page = cols * rows
    for start in range(0, len(labels), per_page):
        page = Image.new("L", A4, 255)
        draw = ImageDraw.Draw(page)
        for n, label in enumerate(labels[start:start + per_page]):
            x, y = (n % cols) * cw, (n // cols) * ch
            draw.rectangle([x + 8, y + 8, x + cw - 8, y + ch - 8], outline=0, width=2)
            for k, line in enumerate(call_number_lines(label.call_number)):
                line = _fit(draw, line, font, cw - 30)
                tw = draw.textlength(line, font=font)
                draw.text((x + (cw - tw) / 2, y + 30 + k * 56), line, font=font, fill=0)
        pages.append(page)
    return pages


def save_pages(pages, fh, fmt="PDF"):
    """Write pages to a file object: one PDF (printable) or the first page as PNG."""
    if not pages:
        raise LabelError("nothing to print")
    if fmt == "PDF":
        first, rest = pages[0], pages[1:]
        first.save(fh, "PDF", resolution=DPI, save_all=True, append_images=rest)
    else:
        pages[0].save(fh, fmt)
