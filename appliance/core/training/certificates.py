"""Course certificates: a PDF or a JPEG, kept in the data folder by its SHA-256 (the same
file uploaded twice is kept once; a record names its certificate by content)."""

import hashlib
import os
from pathlib import Path

from ..errors import N_, Invalid, NotFound

FOLDER = "training/certificates"
MAX_BYTES = 5 * 1024 * 1024
TYPES = {b"%PDF-": ("application/pdf", "pdf"), b"\xff\xd8\xff": ("image/jpeg", "jpg")}


def _kind(data):
    for magic, kind in TYPES.items():
        if data.startswith(magic):
            return kind
    raise Invalid("bad_certificate", N_("A certificate must be a PDF or a JPEG photo."))


def store(data_dir, data, filename=""):
    """Keep `data`; {"sha256", "type", "size", "filename"} for the course record."""
    if len(data) > MAX_BYTES:
        raise Invalid("certificate_too_big", N_("The certificate is %(size)s MB; at most "
                                                "%(limit)s MB."),
                      size=round(len(data) / 1048576, 1), limit=MAX_BYTES // 1048576)
    content_type, ext = _kind(data)
    digest = hashlib.sha256(data).hexdigest()
    path = Path(data_dir) / FOLDER / f"{digest}.{ext}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    name = os.path.basename(filename or "")[:120] or f"{digest[:12]}.{ext}"
    return {"sha256": digest, "type": content_type, "size": len(data), "filename": name}


def path_of(data_dir, certificate):
    """The file of a certificate a record names, when this device holds it."""
    digest = str((certificate or {}).get("sha256") or "")
    ext = "pdf" if (certificate or {}).get("type") == "application/pdf" else "jpg"
    path = Path(data_dir) / FOLDER / f"{digest}.{ext}"
    if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest) \
            or not path.exists():
        raise NotFound("certificate_not_here", N_("This device does not hold that "
                                                  "certificate's file."))
    return path
