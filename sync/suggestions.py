"""The reading suggestions and the cataloguing classifier, shipped with sync.

A branch says which model it holds (``meta["suggest"]``: the model's id, 0 for none);
the hub's sealed answer carries the newer file it built (``thuvien recommend build``)
whole, once, in the round that asked. The file is small (bench/README.md: bytes for a
town) and replaces the branch's tables in one transaction, so a branch holds one model
or the next, never half of one. An older branch, which does not ask, gets nothing.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

from appliance.core import events
from appliance.core.suggest import build, modelfile, store

log = logging.getLogger("thuvien.sync")
_cache: dict[str, tuple] = {}


def have() -> int:
    return store.current_id() or 0


def _built(data_dir) -> tuple[int, str] | None:
    """The hub's file as (id, base64), read again only when it changed."""
    path = Path(data_dir) / build.FILE
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return None
    cached = _cache.get(str(path))
    if cached is None or cached[0] != stamp:
        data = path.read_bytes()
        cached = (stamp, modelfile.unpack(data)["id"], base64.b64encode(data).decode())
        _cache[str(path)] = cached
    return cached[1], cached[2]


def offer(ctx, meta: dict) -> dict:
    """What the hub adds to its answer: the model file when the branch's is older."""
    held = meta.get("suggest")
    if ctx.data_dir is None or not isinstance(held, int) or isinstance(held, bool):
        return {}
    built = _built(ctx.data_dir)
    if built is None or built[0] <= held:
        return {}
    return {"suggest": {"id": built[0], "data": built[1]}}


def take(ctx, offered) -> bool:
    """Load a model the hub's signed answer carried; a bad one is logged and left."""
    if not isinstance(offered, dict) or not isinstance(offered.get("data"), str):
        return False
    try:
        model = modelfile.unpack(base64.b64decode(offered["data"]))
    except (ValueError, modelfile.BadModel) as exc:
        log.warning("sync: the suggestion model from the hub was not loaded: %s", exc)
        return False
    if model["id"] <= have():
        return False
    with events.writing(ctx):
        store.load(ctx, model)
    log.info("sync: suggestion model %s loaded", model["id"])
    return True
