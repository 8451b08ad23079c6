"""Scans made in the test: pages with Vietnamese text drawn by Pillow in the project's
font (DejaVu Sans, as the receipts use), saved as JPEG, PNG, multi-page TIFF or PDF."""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = Path(__file__).resolve().parents[2] / "devices" / "fonts" / "DejaVuSans.ttf"


def page(lines, size=(900, 500), font_size=44):
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), font_size)
    y = 40
    for line in lines:
        draw.text((40, y), line, font=font, fill=0)
        y += int(font_size * 1.6)
    return image


def save_tiff(path, images):
    images[0].save(path, "TIFF", save_all=True, append_images=images[1:], compression="tiff_lzw")
    return path


def save_pdf(path, images):
    images[0].convert("RGB").save(path, "PDF", save_all=True,
                                  append_images=[i.convert("RGB") for i in images[1:]],
                                  resolution=150)
    return path
