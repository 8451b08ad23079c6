"""ESC/POS receipt printers over serial or a USB printer device file (/dev/usb/lp0).

Cheap printers mangle Vietnamese code pages, so a receipt is drawn with Pillow in a
Vietnamese-capable font and sent as a 1-bit raster (GS v 0), in bands a small printer
buffer can take, then fed and cut.
"""

import logging
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)
FONT_DIRS = [Path(__file__).with_name("fonts"), Path("/usr/share/fonts/truetype/dejavu")]
FONT_FILES = {"regular": "DejaVuSans.ttf", "bold": "DejaVuSans-Bold.ttf"}
WIDTHS = (384, 576)  # 58 mm and 80 mm paper at 203 dpi
BAND = 255  # rows per GS v 0 command: small printers overflow on taller images
INIT = b"\x1b\x40"  # ESC @
FEED_AND_CUT = b"\x1b\x64\x04" + b"\x1d\x56\x42\x00"  # ESC d 4; GS V 66 0 (feed, cut)
MARGIN = 8


def font(kind: str = "regular", size: int = 22):
    for folder in FONT_DIRS:
        path = folder / FONT_FILES[kind]
        if path.exists():
            return ImageFont.truetype(str(path), size)
    log.warning("no DejaVu font found; Vietnamese diacritics may be missing")
    return ImageFont.load_default(size)


def _wrap(text: str, face, width: int) -> list[str]:
    """Greedy word wrap by measured width (Vietnamese words are short, spaces plenty)."""
    out = []
    for para in unicodedata.normalize("NFC", text).splitlines() or [""]:
        line = ""
        for word in para.split(" "):
            trial = f"{line} {word}" if line else word
            if face.getlength(trial) <= width or not line:
                line = trial
            else:
                out.append(line)
                line = word
        while face.getlength(line) > width and len(line) > 1:  # one over-long word
            cut = max(1, int(len(line) * width / face.getlength(line)))
            out.append(line[:cut])
            line = line[cut:]
        out.append(line)
    return out


def render(title: str, lines, footer: str = "", width: int = 384) -> Image.Image:
    """The receipt as a 1-bit image (black = 0, as Pillow's mode "1" has it)."""
    if width not in WIDTHS:
        raise ValueError(f"paper width must be one of {WIDTHS} dots, not {width}")
    usable = width - 2 * MARGIN
    rows = [(font("bold", 28), t, "center") for t in _wrap(title, font("bold", 28), usable)]
    body = font("regular", 22)
    for line in lines:
        rows += [(body, t, "left") for t in _wrap(str(line), body, usable)]
    if footer:
        small = font("regular", 18)
        rows += [(small, t, "center") for t in _wrap(footer, small, usable)]
    heights = [f.getbbox("ÁẬỹg")[3] + 8 for f, _, _ in rows]
    img = Image.new("1", (width, sum(heights) + 2 * MARGIN), 1)
    draw = ImageDraw.Draw(img)
    y = MARGIN
    for (face, text, align), h in zip(rows, heights, strict=True):
        x = MARGIN if align == "left" else (width - face.getlength(text)) / 2
        draw.text((x, y), text, font=face, fill=0)
        y += h
    return img


def raster(img: Image.Image) -> bytes:
    """GS v 0 commands for the image: xL xH = bytes per row, yL yH = rows; 1 bit = black."""
    img = img.convert("1")
    width_bytes = (img.width + 7) // 8
    padded = Image.new("1", (width_bytes * 8, img.height), 1)
    padded.paste(img, (0, 0))
    data = bytes(b ^ 0xFF for b in padded.tobytes())  # Pillow: 1 = white; ESC/POS: 1 = dot
    out = bytearray()
    for top in range(0, img.height, BAND):
        rows = min(BAND, img.height - top)
        out += b"\x1d\x76\x30\x00" + width_bytes.to_bytes(2, "little") + rows.to_bytes(
            2, "little")
        out += data[top * width_bytes:(top + rows) * width_bytes]
    return bytes(out)


def receipt(title: str, lines, footer: str = "", width: int = 384) -> bytes:
    return INIT + raster(render(title, lines, footer, width)) + FEED_AND_CUT


def decode_raster(data: bytes) -> Image.Image:
    """The image the GS v 0 bands in `data` print (the reverse of raster(); for checks)."""
    bands, pos, width = [], 0, None
    while (pos := data.find(b"\x1d\x76\x30", pos)) >= 0:
        xb = int.from_bytes(data[pos + 4:pos + 6], "little")
        rows = int.from_bytes(data[pos + 6:pos + 8], "little")
        body = data[pos + 8:pos + 8 + xb * rows]
        if len(body) != xb * rows or (width is not None and xb != width):
            raise ValueError("truncated or inconsistent raster band")
        width = xb
        bands.append(Image.frombytes("1", (xb * 8, rows), bytes(b ^ 0xFF for b in body)))
        pos += 8 + xb * rows
    if not bands:
        raise ValueError("no GS v 0 raster in the data")
    img = Image.new("1", (width * 8, sum(b.height for b in bands)), 1)
    y = 0
    for band in bands:
        img.paste(band, (0, y))
        y += band.height
    return img


class Printer:
    """`target` is a serial port (path or pyserial URL) or a printer device file."""

    def __init__(self, target: str, width: int = 384, baudrate: int = 19200,
                 kind: str = "auto"):
        self.target, self.width, self.baudrate = target, width, baudrate
        self.kind = kind if kind != "auto" else ("file" if "/usb/lp" in target else "serial")

    def send(self, data: bytes) -> None:
        if self.kind == "file":
            with open(self.target, "wb", buffering=0) as dev:
                dev.write(data)
            return
        import serial

        with serial.serial_for_url(self.target, baudrate=self.baudrate, timeout=2,
                                   write_timeout=10) as port:
            port.write(data)
            port.flush()

    def print_receipt(self, title: str, lines, footer: str = "") -> int:
        data = receipt(title, lines, footer, self.width)
        self.send(data)
        return len(data)

