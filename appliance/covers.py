"""Cover images: uploaded JPEG/PNG checked with Pillow, kept as JPEG in the data
folder (`covers/<record id>.jpg` and a `-thumb.jpg`), a placeholder SVG otherwise.

Covers are files beside the database, not events: they stay on the device that
took them (the log carries records, not pictures, over thin links). They are read and
written through a context's file store (`ctx.files`, core/filestore.py): a practice
copy's covers are its own, over the real library's."""

import io
import re
import warnings
from html import escape

from .core import filestore
from .core.errors import N_

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a bigger picture is a decompression bomb, not a cover
FORMATS = ("JPEG", "PNG")
SIZES = {"cover": (600, 900), "thumb": (120, 180)}
ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")


class CoverError(ValueError):
    """A refused upload; `args[0]` is an English msgid for the web layer to translate."""


FOLDER = "covers"


def name_of(bib_id, size="cover"):
    """The cover's file within a store, or None for what cannot be a record id."""
    if not ID_RE.match(bib_id or "") or size not in SIZES:
        return None
    suffix = "" if size == "cover" else f"-{size}"
    return f"{bib_id}{suffix}.jpg"


def path_for(files, bib_id, size="cover"):
    """Where the cover is read (it may not exist); `files`: a store or a data folder."""
    name = name_of(bib_id, size)
    return filestore.at(files).read(FOLDER, name) if name else None


def _opened(data):
    """The decoded image, or CoverError: what is not a JPEG or PNG picture is refused."""
    # Pillow is imported when a cover is uploaded, not with the web app: the server
    # holds it in memory only once someone needs it.
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise CoverError(N_("Choose a picture file."))
    if len(data) > MAX_BYTES:
        raise CoverError(N_("The picture is larger than 5 MB."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            if probe.format not in FORMATS:
                raise CoverError(N_("Only JPEG or PNG pictures can be covers."))
            if probe.width * probe.height > MAX_PIXELS:
                raise CoverError(N_("The picture has too many pixels."))
            probe.verify()  # checks the file's structure; the object is spent after it
            image = Image.open(io.BytesIO(data))
            image.load()
    except CoverError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise CoverError(N_("This file is not a JPEG or PNG picture.")) from None
    return image


def save(files, bib_id, data):
    """Check an upload and store the cover and its thumbnail; returns the paths."""
    if name_of(bib_id) is None:
        raise CoverError(N_("No such record."))
    from PIL import Image

    image = _opened(data)
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    written = []
    for size, box in SIZES.items():
        copy = image.copy()
        copy.thumbnail(box, Image.LANCZOS)
        target = filestore.at(files).write(FOLDER, name_of(bib_id, size))
        tmp = target.with_suffix(".tmp")
        copy.convert("RGB").save(tmp, "JPEG", quality=85, optimize=True)
        tmp.replace(target)  # a reader never sees half a file
        written.append(target)
    return written


def remove(files, bib_id):
    for size in SIZES:
        name = name_of(bib_id, size)
        if name is not None:
            filestore.at(files).remove(FOLDER, name)


def has_cover(files, bib_id):
    path = path_for(files, bib_id, "thumb")
    return bool(path and path.exists())


def placeholder_svg(title=""):
    """A plain book shape with the title's first letter, for records without a cover."""
    letter = escape((title or "?").strip()[:1].upper() or "?")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="180" '
        'viewBox="0 0 120 180" role="img" aria-label="">'
        '<rect width="120" height="180" rx="6" fill="#e7e1d4"/>'
        '<rect x="10" width="6" height="180" fill="#c9bfa8"/>'
        '<text x="64" y="108" font-family="DejaVu Sans, sans-serif" font-size="56" '
        f'text-anchor="middle" fill="#6b5e45">{letter}</text></svg>')
