"""The hub's authority check on what a branch sends (appliance/core/authority.py).

A refused event is held in the log but neither applied nor relayed, and noted in the
quarantine table with the device, its library, the staff account and the reason. Why
in the log: an origin's chain is gapless, so the device's next events must find it
there to follow it (and the cursor the branch is answered covers it, so it is not sent
again); `verify` still holds, because a rebuild skips the held events as ingest did.
The rest of the batch is applied as if the refused event were not there.
"""

from __future__ import annotations

import json
import logging
from itertools import groupby

from appliance.core import authority, events
from appliance.core.authority import Quarantine

log = logging.getLogger("thuvien.sync")


def ingest(ctx, dev, evs: list[dict], received_at: str) -> dict:
    """`events.ingest` of a device's batch, with the events it may not make held back."""
    refused = authority.screen(evs, dev.library, authority.batch_lookup(evs))
    if not refused:
        return events.ingest(ctx, evs)
    result = {"applied": 0, "skipped": 0, "quarantined": 0, "heads": {}}
    with events.batch_writer(ctx):  # the whole batch, or nothing, as before
        for is_refused, group in groupby(evs, key=lambda d: d.get("id") in refused):
            run = list(group)
            done = events.ingest(ctx, run, apply=not is_refused)
            result["skipped"] += done["skipped"]
            result["heads"].update(done["heads"])
            if not is_refused:
                result["applied"] += done["applied"]
                continue
            stored = set(done["stored"])  # a batch sent again: noted once
            result["quarantined"] += len(stored)
            for d in run:
                if d["id"] in stored:
                    _note(dev, d, refused[d["id"]], received_at)
    return result


def _note(dev, d: dict, reason, received_at: str) -> None:
    actor = d["body"].get("actor")
    Quarantine.insert(
        event_id=d["id"], origin=d["origin"], device_library=dev.library,
        library=d["library"], actor=str(actor) if actor is not None else None, kind=d["kind"],
        code=reason.code, message=reason.message,
        params=json.dumps(reason.params, ensure_ascii=False, sort_keys=True),
        event=json.dumps(d, ensure_ascii=False, sort_keys=True),
        received_at=received_at).on_conflict_ignore().execute()
    log.warning("sync: quarantined %s/%s (%s) from %s of %s: %s", d["origin"], d["seq"],
                d["kind"], dev.id, dev.library, reason.message % reason.params)

