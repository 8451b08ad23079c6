"""The model file the hub builds and sync ships: gzip'd canonical JSON.

    {"format": "thuvien-suggest", "format_version": 1, "id": <build time, ms>,
     "built_at": ISO, "min_borrowers": 5,
     "related": {"adult": {bib: [[bib, borrowers], ...]}, "child": {...}},
     "docs": [[bib, ddc or null], ...],
     "terms": {term: [[doc number, weight], ...]}}

`id` orders builds: a branch takes a file whose id is newer than the one it holds. It
holds record ids, counts of at least min_borrowers and words of the catalogue: no
patron, no loan, no count small enough to point at one reader.
"""

from __future__ import annotations

import gzip
import json

FORMAT = "thuvien-suggest"
FORMAT_VERSION = 1


class BadModel(ValueError):
    """A file that is not a model this version reads."""


def pack(model: dict) -> bytes:
    body = {"format": FORMAT, "format_version": FORMAT_VERSION, **model}
    raw = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return gzip.compress(raw.encode(), compresslevel=9, mtime=0)


def unpack(data: bytes) -> dict:
    try:
        body = json.loads(gzip.decompress(data))
    except (OSError, EOFError, ValueError) as exc:
        raise BadModel(f"not a suggestion model: {exc}") from exc
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise BadModel("not a suggestion model")
    if body.get("format_version") != FORMAT_VERSION:
        raise BadModel(f"suggestion model format {body.get('format_version')} is not "
                       f"{FORMAT_VERSION}")
    if not isinstance(body.get("id"), int):
        raise BadModel("suggestion model without an id")
    return body
