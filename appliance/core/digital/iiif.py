"""IIIF, the standard every digital library speaks.

Image API 3, level 1 (and a little more): regions full, square, x,y,w,h and pct:;
sizes max, w,, ,h, pct:n, w,h and !w,h (never larger than the region: no ^); rotation
0, 90, 180, 270; qualities default, color, gray; formats jpg and png. Every page's
source is its derived `full.jpg`; each answer is made once and kept beside it
(`iiif/<key>.<fmt>`), so a page seen twice is a file read.

Presentation 3: a manifest per document, built with iiif-prezi3 (which also checks
it), one canvas per page with its image and image service, and the thumbnails."""

import hashlib
import json
import os
import re

from ..errors import N_, Invalid
from . import derive, store

CONTEXT_IMAGE = "http://iiif.io/api/image/3/context.json"
FORMATS = {"jpg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png")}
QUALITIES = ("default", "color", "gray")
TILE = 512
MAX_SIDE = derive.FULL_SIDE
_NUM = r"\d+(?:\.\d+)?"


def _bad(what, value):
    return Invalid("bad_iiif_request", N_("The IIIF %(what)s %(value)s is not supported."),
                   what=what, value=value)


def info(base_id, page):
    """info.json of a page; `base_id` is the image service's URL."""
    width, height = derive.full_size(page.width, page.height)
    factors = [f for f in (1, 2, 4, 8, 16) if max(width, height) / f >= 64] or [1]
    sizes = []
    for side in sorted(derive.SIZES.values()):
        scale = min(1.0, side / max(width, height))
        sizes.append({"width": max(1, round(width * scale)),
                      "height": max(1, round(height * scale))})
    return {"@context": CONTEXT_IMAGE, "id": base_id, "type": "ImageService3",
            "protocol": "http://iiif.io/api/image", "profile": "level1",
            "width": width, "height": height, "maxWidth": width, "maxHeight": height,
            "sizes": sizes, "tiles": [{"width": TILE, "scaleFactors": factors}],
            "extraQualities": ["color", "gray"], "extraFormats": ["png"],
            "extraFeatures": ["regionByPct", "sizeByPct", "sizeByConfinedWh", "sizeByWh",
                              "rotationBy90s", "regionSquare"]}


def region(text, width, height):
    """(x, y, w, h) in pixels of the full image, clipped to it."""
    if text == "full":
        return 0, 0, width, height
    if text == "square":
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side
    pct = text.startswith("pct:")
    parts = (text[4:] if pct else text).split(",")
    if len(parts) != 4 or not all(re.fullmatch(_NUM if pct else r"\d+", p) for p in parts):
        raise _bad("region", text)
    x, y, w, h = (float(p) for p in parts)
    if pct:
        x, y, w, h = x * width / 100, y * height / 100, w * width / 100, h * height / 100
    x, y, w, h = round(x), round(y), round(w), round(h)
    if w <= 0 or h <= 0 or x >= width or y >= height:
        raise _bad("region", text)
    return x, y, min(w, width - x), min(h, height - y)


def size(text, rw, rh):
    """(w, h) the region is scaled to."""
    if text == "max":
        return rw, rh
    if text.startswith("pct:"):
        if not re.fullmatch(_NUM, text[4:]) or not 0 < float(text[4:]) <= 100:
            raise _bad("size", text)
        n = float(text[4:]) / 100
        return max(1, round(rw * n)), max(1, round(rh * n))
    confined = text.startswith("!")
    m = re.fullmatch(r"(\d*),(\d*)", text[1:] if confined else text)
    if not m or not (m.group(1) or m.group(2)) or (confined and not (m.group(1) and m.group(2))):
        raise _bad("size", text)
    w, h = (int(m.group(1)) if m.group(1) else None), (int(m.group(2)) if m.group(2) else None)
    if confined:
        scale = min(w / rw, h / rh)
        w, h = round(rw * scale), round(rh * scale)
    elif w is None:
        w = round(rw * h / rh)
    elif h is None:
        h = round(rh * w / rw)
    if not w or not h or w > rw or h > rh:  # level 1 does not upscale
        raise _bad("size", text)
    return w, h


def parse(region_text, size_text, rotation, quality, fmt, width, height):
    """A request checked against a page of this full size: the crop box, the size, and
    what follows, or Invalid."""
    box = region(region_text, width, height)
    out = size(size_text, box[2], box[3])
    if rotation not in ("0", "90", "180", "270"):
        raise _bad("rotation", rotation)
    if quality not in QUALITIES:
        raise _bad("quality", quality)
    if fmt not in FORMATS:
        raise _bad("format", fmt)
    return box, out, int(rotation), quality, fmt


def render(files, page, request):
    """The path of the answer to a parsed request, made and kept on first ask."""
    box, out, rotation, quality, fmt = request
    key = hashlib.sha256(f"{page.sha256}|{box}|{out}|{rotation}|{quality}".encode()).hexdigest()[:32]
    held = store.derived(files, page.id, "iiif", f"{key}.{fmt}")
    if held.exists():
        return held
    path = store.derived_dir(files, page.id) / "iiif" / f"{key}.{fmt}"  # kept in our own
    source = store.derived(files, page.id, "full.jpg")
    if not source.exists():  # made by the worker, never in a request
        raise derive.not_ready()
    from PIL import Image  # when an image is made, not with the app (memory)

    with Image.open(source) as im:
        x, y, w, h = box
        image = im.crop((x, y, x + w, y + h)) if (x, y, w, h) != (0, 0, *im.size) else im.copy()
    if image.size != out:
        image.draft("RGB", out)
        image = image.resize(out, Image.Resampling.LANCZOS if out[0] < image.width / 2
                             else Image.Resampling.BILINEAR)
    if rotation:
        image = image.rotate(-rotation, expand=True)
    if quality == "gray":
        image = image.convert("L")
    elif image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.part")
    image.save(tmp, FORMATS[fmt][0], **({"quality": 85} if fmt == "jpg" else {}))
    os.replace(tmp, path)
    return path


def manifest(doc, page_rows, base, bib=None, texts=None):
    """The Presentation 3 manifest of a document as a dict, built and checked by
    iiif-prezi3. `base`: the server's URL root (…/iiif)."""
    from iiif_prezi3 import Manifest, ServiceV3, config

    config.configs["helpers.auto_fields.AutoLang"].auto_lang = "vi"
    m = Manifest(id=f"{base}/3/{doc.id}/manifest.json", label={"vi": [doc.title or doc.id]})
    meta = []
    if bib is not None and bib.authors:
        meta.append({"label": {"vi": ["Tác giả"], "en": ["Author"]},
                     "value": {"none": ["; ".join(bib.authors)]}})
    if bib is not None and bib.year:
        meta.append({"label": {"vi": ["Năm"], "en": ["Year"]},
                     "value": {"none": [str(bib.year)]}})
    if meta:
        m.metadata = meta
    for row in page_rows:
        width, height = derive.full_size(row.width, row.height)
        service_id = f"{base}/image/{row.id}"
        canvas = m.make_canvas(id=f"{base}/3/{doc.id}/canvas/{row.n}",
                               label={"none": [str(row.n)]}, width=width, height=height)
        canvas.add_image(image_url=f"{service_id}/full/max/0/default.jpg",
                         anno_page_id=f"{base}/3/{doc.id}/page/{row.n}",
                         anno_id=f"{base}/3/{doc.id}/annotation/{row.n}",
                         format="image/jpeg", width=width, height=height,
                         service=[ServiceV3(id=service_id, type="ImageService3",
                                            profile="level1")])
        tw, th = _thumb_size(width, height)
        canvas.thumbnail = [{"id": f"{service_id}/full/{tw},{th}/0/default.jpg",
                             "type": "Image", "format": "image/jpeg",
                             "width": tw, "height": th}]
    if page_rows:
        first = m.items[0].thumbnail
        m.thumbnail = first
    return json.loads(m.jsonld())


def _thumb_size(width, height):
    scale = min(1.0, derive.SIZES["thumb"] / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))
