"""Derivatives of a page, made by the background worker (jobs.py), never in a request:

- `full.jpg`: the page at most FULL_SIDE pixels on its long side, the source of every
  IIIF answer and of OCR;
- `web.jpg` for the viewer, `thumb.jpg` for the strip of thumbnails;
- OCR in Vietnamese by Debian's tesseract (`tesseract-ocr-vie`): the text goes into a
  `digital.text` event (so the hub and a rebuild hold it), the word boxes into
  `words.json` beside the images (for highlighting hits on the page)."""

import csv
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

from ..errors import N_, DomainError
from . import pages, store

FULL_SIDE = 3000
SIZES = {"web": 1600, "thumb": 200}
QUALITY = {"full": 88, "web": 82, "thumb": 75}
OCR_LANG = "vie"
OCR_TIMEOUT = 600


class OcrUnavailable(DomainError):
    pass


def not_ready():
    return DomainError("not_ready", N_("The pages of this document are still being "
                                       "prepared: try again in a minute."), http_status=503)


def full_size(width, height):
    """The size of `full.jpg` for a page of this size (what IIIF's info.json says)."""
    scale = min(1.0, FULL_SIDE / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _save(image, path, quality):
    tmp = path.with_name(path.name + ".part")
    image.save(tmp, "JPEG", quality=quality, optimize=False)
    os.replace(tmp, path)  # a reader never sees half a file


def make_images(files, page):
    """full, web and thumb of one page (a DigitalPage row); returns the folder."""
    master = store.master_path(files, page.sha256, page.ext)
    if not master.exists():
        raise DomainError("no_master", N_("The master of page %(id)s is not held here."),
                          id=page.id)
    image = pages.draw(master, page.ext, page.frame)
    from PIL import Image  # with the page (pages.draw), not with the app

    folder = store.derived_dir(files, page.id)
    folder.mkdir(parents=True, exist_ok=True)
    full = image.resize(full_size(image.width, image.height), Image.Resampling.LANCZOS) \
        if max(image.size) > FULL_SIDE else image
    _save(full, folder / "full.jpg", QUALITY["full"])
    for name, side in SIZES.items():
        copy = full.copy()
        copy.thumbnail((side, side), Image.Resampling.LANCZOS)
        _save(copy, folder / f"{name}.jpg", QUALITY[name])
    return folder


def tesseract_binary():
    return shutil.which("tesseract")


def ocr(image_path, lang=OCR_LANG):
    """(text, words) of a page image by tesseract: words as [text, x, y, w, h] in the
    image's pixels. One run gives both (its TSV output)."""
    binary = tesseract_binary()
    if binary is None:
        raise OcrUnavailable("no_tesseract", N_(
            "OCR needs tesseract with its Vietnamese model (Debian: tesseract-ocr "
            "tesseract-ocr-vie)."))
    env = dict(os.environ, OMP_THREAD_LIMIT="1")  # one core per page: the Pi has others' work
    run = subprocess.run([binary, str(image_path), "stdout", "-l", lang, "tsv"],
                         capture_output=True, timeout=OCR_TIMEOUT, env=env, check=False)
    if run.returncode != 0:
        raise OcrUnavailable("ocr_failed", N_("OCR failed: %(reason)s"),
                             reason=run.stderr.decode("utf-8", "replace").strip()[-300:])
    return parse_tsv(run.stdout.decode("utf-8", "replace"))


def parse_tsv(text):
    """Tesseract's TSV: lines of words (level 5) grouped by block, paragraph and line."""
    words: list[list] = []  # [text, left, top, width, height]
    lines: list[list[str]] = []
    key = None
    for row in csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
        if row.get("level") != "5" or not (row.get("text") or "").strip():
            continue
        line_key = (row["block_num"], row["par_num"], row["line_num"])
        if line_key != key:
            lines.append([])
            key = line_key
        lines[-1].append(row["text"].strip())
        words.append([row["text"].strip(), int(row["left"]), int(row["top"]),
                      int(row["width"]), int(row["height"])])
    return "\n".join(" ".join(line) for line in lines), words


def save_words(folder, words, size):
    path = Path(folder) / "words.json"
    path.parent.mkdir(parents=True, exist_ok=True)  # its images may be read from below
    tmp = path.with_name("words.json.part")
    tmp.write_text(json.dumps({"size": size, "words": words}, ensure_ascii=False),
                   encoding="utf-8")
    os.replace(tmp, path)


def load_words(files, page_id):
    path = store.derived(files, page_id, "words.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
