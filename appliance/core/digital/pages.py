"""What a scan or a PDF holds: its pages, in order, and how to draw one of them.

JPEG, PNG and TIFF (a multi-page TIFF is one page per frame) are read with Pillow;
a PDF's pages are rendered with pypdfium2 (its own PDFium, no system library)."""

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import N_, Invalid

FORMATS = {"JPEG": "jpg", "PNG": "png", "TIFF": "tif", "MPO": "jpg"}
SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".pdf")
PDF_DPI = 150  # a PDF page drawn at this resolution is the page's full image


@dataclass
class Page:
    ext: str
    frame: int
    width: int
    height: int


def natural_key(path):
    """Page order of files named by a scanner: 'p2' before 'p10'."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", Path(path).name)]


def files_in(target):
    """The scans of a file or a folder, in page order."""
    target = Path(target)
    if target.is_dir():
        found = sorted((p for p in target.iterdir()
                        if p.is_file() and p.suffix.lower() in SUFFIXES), key=natural_key)
        if not found:
            raise Invalid("no_scans", N_("%(path)s holds no JPEG, PNG, TIFF or PDF files."),
                          path=str(target))
        return found
    if not target.is_file():
        raise Invalid("no_such_file", N_("%(path)s does not exist."), path=str(target))
    return [target]


def is_pdf(path):
    with open(path, "rb") as f:
        return f.read(5) == b"%PDF-"


def read(path):
    """The pages of one file, or Invalid saying why it cannot be a scan."""
    if is_pdf(path):
        return _pdf_pages(path)
    # Pillow is imported when a page is read or drawn, not with the app (memory)
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # past Pillow's limit (89 million pixels: a 600 dpi A3 scan is 70) a file
            # is a decompression bomb, not a scan
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                ext = FORMATS.get(im.format or "")
                if ext is None:
                    raise _not_a_scan(path)
                return [Page(ext, i, frame.width, frame.height)
                        for i, frame in enumerate(ImageSequence.Iterator(im))]
    except Invalid:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _not_a_scan(path) from None


def _not_a_scan(path):
    return Invalid("not_a_scan", N_("%(name)s is not a JPEG, PNG, TIFF or PDF file."),
                   name=Path(path).name)


def _pdf_pages(path):
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError:
        raise _not_a_scan(path) from None
    try:
        pages = []
        for i in range(len(pdf)):
            w, h = pdf[i].get_size()  # points: 1/72 inch
            pages.append(Page("pdf", i, round(w * PDF_DPI / 72), round(h * PDF_DPI / 72)))
        return pages
    finally:
        pdf.close()


def draw(path, ext, frame):
    """One page as an RGB (or greyscale) Pillow image at full resolution."""
    if ext == "pdf":
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(str(path))
        try:
            return pdf[frame].render(scale=PDF_DPI / 72).to_pil().convert("RGB")
        finally:
            pdf.close()
    from PIL import Image

    with Image.open(path) as im:
        im.seek(frame)
        im.load()
        image = im.copy()
    if image.mode in ("L", "RGB"):
        return image
    if image.mode in ("1", "I;16", "I", "F"):
        return image.convert("L")
    return image.convert("RGB")
