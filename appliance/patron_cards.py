"""Patron cards on A4 sheets, as a school prints them for a class: ten ID-1 cards
(85.6 x 54 mm) a page, each with the library's name, the pupil's name and class, the
card's expiry, an optional box to glue a photo, and the card number as a barcode
(14-digit Codabar with its Luhn digit; Code 128 for a card number with letters) that
a scanner and zbar read. Rendered with Pillow at 300 dpi like the label sheets
(labels.py), saved as PDF (or PNG pages)."""

from dataclasses import dataclass
from datetime import date

from PIL import Image, ImageDraw

from . import labels
from .core.models import Patron
from .core.policy import library_name

MM = labels.DPI / 25.4
CARD = (round(85.6 * MM), round(54 * MM))
COLS, ROWS = 2, 5
GAP = round(4 * MM)  # between cards, to cut


@dataclass
class Words:
    """The words printed on a card, in the library's language (the caller's)."""
    title: str = "THẺ BẠN ĐỌC"
    school_class: str = "Lớp"
    expiry: str = "Hạn thẻ"
    photo: str = "Ảnh 2×3"


def chosen(ctx, school_class=None, cards=()):
    """This library's live patrons of a class, or with these card numbers, by name."""
    query = Patron.select().where((Patron.library == ctx.library) & ~Patron.deleted)
    if school_class:
        query = query.where(Patron.school_class == school_class)
    elif cards:
        query = query.where(Patron.card_key << [c.strip().upper() for c in cards])
    else:
        return []
    return list(query.order_by(Patron.school_class, Patron.name_sort))


def symbology(card):
    return "codabar" if card.isdigit() else "code128"


def _vn_date(iso):
    try:
        return date.fromisoformat(iso).strftime("%d/%m/%Y")
    except (TypeError, ValueError):
        return ""


def _card(patron, library_name, words, photo_box):
    img = Image.new("L", CARD, 255)
    draw = ImageDraw.Draw(img)
    w, h = CARD
    draw.rectangle([0, 0, w - 1, h - 1], outline=0, width=3)
    small, bold = labels._font(30), labels._font(32, bold=True)
    draw.rectangle([0, 0, w - 1, 96], fill=0)
    draw.text((24, 10), labels._fit(draw, library_name, bold, w - 48), font=bold, fill=255)
    draw.text((24, 52), words.title, font=small, fill=255)
    left = 24
    if photo_box:
        box = (24, 120, 24 + round(20 * MM), 120 + round(30 * MM))
        draw.rectangle(box, outline=0, width=2)
        tw = draw.textlength(words.photo, font=small)
        draw.text(((box[0] + box[2] - tw) / 2, (box[1] + box[3]) / 2 - 16), words.photo,
                  font=small, fill=0)
        left = box[2] + 24
    for size in (46, 40, 34, 30):  # a long name smaller rather than cut
        big = labels._font(size, bold=True)
        if draw.textlength(patron.name, font=big) <= w - left - 24:
            break
    draw.text((left, 118), labels._fit(draw, patron.name, big, w - left - 24), font=big, fill=0)
    if patron.school_class:
        draw.text((left, 178), f"{words.school_class}: {patron.school_class}", font=small,
                  fill=0)
    if patron.expiry:
        draw.text((left, 218), f"{words.expiry}: {_vn_date(patron.expiry)}", font=small,
                  fill=0)
    kind = symbology(patron.card)
    room = w - left - 12  # beside the photo box, or the card's width
    bar = labels.barcode_image(patron.card, kind, module=3, height=150)
    if bar.width > room:
        bar = labels.barcode_image(patron.card, kind, module=2, height=150)
    x = left - 12 + max(0, (room - bar.width) // 2)
    img.paste(bar.crop((0, 0, min(bar.width, w - x - 4), bar.height)), (x, 300))
    tw = draw.textlength(patron.card, font=small)
    draw.text((x + (min(bar.width, room) - tw) / 2, 458), patron.card, font=small, fill=0)
    return img


def sheets(patrons, library_name, words=None, photo_box=False):
    """A4 pages of cards, ten a page."""
    words = words or Words()
    pages, per_page = [], COLS * ROWS
    left = (labels.A4[0] - COLS * CARD[0] - (COLS - 1) * GAP) // 2
    top = (labels.A4[1] - ROWS * CARD[1] - (ROWS - 1) * GAP) // 2
    for start in range(0, len(patrons), per_page):
        page = Image.new("L", labels.A4, 255)
        for n, patron in enumerate(patrons[start:start + per_page]):
            x = left + (n % COLS) * (CARD[0] + GAP)
            y = top + (n // COLS) * (CARD[1] + GAP)
            page.paste(_card(patron, library_name, words, photo_box), (x, y))
        pages.append(page)
    return pages


def write_pdf(ctx, patrons, fh, words=None, photo_box=False):
    labels.save_pages(sheets(patrons, library_name(ctx), words, photo_box), fh, "PDF")
