"""The same sealed batches on a USB stick, for sites that stay offline for weeks.

A file is ``TVSYNCF1`` then, for each envelope, a 4-byte big-endian length and
the envelope. A branch exports its events after the hub's last acknowledged seq
(and says how far it has pulled); the hub imports them as if pushed, and exports
for one device the town's events after that device's pull cursor, with the
cursor it holds for the device. Importing a file twice changes nothing. At a branch
each batch goes through the applier HTTP answers use (sync.answer): a stick older
than the last sync over the link adds what it holds that is new and moves no cursor back
(nor replaces the hub's newer word on other libraries' shelves, core/shelves).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from appliance.core import events, shelves
from appliance.core.errors import DomainError

from . import answer, envelope, keys, protocol, receive, suggestions
from .models import Device, SyncBatch, get_state

MAGIC = b"TVSYNCF1"
PAGE = 1000


class UsbError(Exception):
    pass


def write_file(path, envelopes: list[bytes]) -> None:
    """Atomically: a stick pulled out mid-write leaves no half file under the name."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(MAGIC)
        for env in envelopes:
            f.write(struct.pack(">I", len(env)) + env)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_file(path) -> list[bytes]:
    data = Path(path).read_bytes()
    if data[:8] != MAGIC:
        raise UsbError("not a thuvien sync file")
    out, pos = [], 8
    while pos < len(data):
        if pos + 4 > len(data):
            raise UsbError("file is cut short")
        (n,) = struct.unpack_from(">I", data, pos)
        if pos + 4 + n > len(data):
            raise UsbError("file is cut short")
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


def export(ctx, path, device: str | None = None) -> dict:
    if ctx.role == "hub":
        return _export_hub(ctx, path, device)
    hub = protocol.hub_peer(ctx.settings)
    mine = keys.load(ctx.data_dir)
    acked = get_state("acked_seq", 0) or 0
    meta = {"pull_after": get_state("pull_after", 0) or 0, "usb": True}
    envelopes, count = [], 0
    while True:
        batch = [events.to_dict(e) for e in events.since(ctx.origin, acked, PAGE)]
        if batch or not envelopes:
            envelopes.append(protocol.seal_payload(meta, batch, sender=ctx.origin,
                                                   sign_key=mine.sign, recipient=hub))
        if not batch:
            break
        count += len(batch)
        acked = batch[-1]["seq"]
    write_file(path, envelopes)
    return {"batches": len(envelopes), "events": count}


def _export_hub(ctx, path, device_id) -> dict:
    dev = Device.get_or_none(Device.id == (device_id or ""))
    if dev is None:
        raise UsbError(f"unknown device {device_id!r}: give --device")
    after, envelopes, count = dev.pull_after, [], 0
    while True:
        pulled, next_pos, more = receive.pull(ctx, dev, after, PAGE)
        meta = {"batch": None, "cursor": events.head(dev.id)[0], "after": after,
                "next": next_pos, "more": more, "usb": True}
        if not more:  # the stick carries the suggestion model too (a branch loads a newer one)
            meta.update(suggestions.offer(ctx, {"suggest": 0}))
            # and the hub's word on other libraries' shelves, as an answer over the link
            # does, dated: a stick is read days later, and its word ages from now
            meta.update(shelves=shelves.offer(dev.library), shelves_ms=ctx.clock.wall_ms())
        envelopes.append(receive.seal_for(ctx, dev, meta, pulled))
        count += len(pulled)
        after = next_pos
        if not more:
            break
    Device.update(pull_after=dev.pull_after).where(Device.id == dev.id).execute()
    write_file(path, envelopes)
    return {"batches": len(envelopes), "events": count}


def import_(ctx, path) -> dict:
    """Apply every batch of a file; those already received are counted, not reapplied."""
    summary = {"batches": 0, "applied": 0, "already": 0, "refused": []}
    for data in read_file(path):
        summary["batches"] += 1
        try:
            applied = _import_hub(ctx, data) if ctx.role == "hub" else _import_branch(ctx, data)
        except receive.Refusal as exc:
            if exc.code == "replay":
                summary["already"] += 1
                continue
            summary["refused"].append(f"{exc.code}: {exc.reason}")
            continue
        summary["applied"] += applied
    return summary


def _import_hub(ctx, data: bytes) -> int:
    dev, header, meta, evs = receive.open_batch(ctx, data)
    result = receive.accept(ctx, dev, header, evs)
    if isinstance(meta.get("pull_after"), int):  # where the branch says it stands, as over HTTP
        Device.update(pull_after=meta["pull_after"]).where(Device.id == dev.id).execute()
    return result["applied"]


def _import_branch(ctx, data: bytes) -> int:
    hub = protocol.hub_peer(ctx.settings)
    try:
        env = envelope.parse(data)
        if env.header.sender != hub.id:
            raise envelope.EnvelopeError("wrong_sender", f"batch from {env.header.sender!r}")
        envelope.verify(env, keys.sign_public_from(hub.sign_key))
        meta, evs = protocol.open_payload(env, me=ctx.origin, box_key=keys.load(ctx.data_dir).box)
    except envelope.EnvelopeError as exc:
        raise receive.Refusal(exc.code, exc.reason) from exc
    with events.writing(ctx):
        if SyncBatch.get_or_none(SyncBatch.batch_id == env.header.batch_hex):
            raise receive.Refusal("replay", "this batch was imported before", 409)
        try:
            result = answer.apply(ctx, meta, evs, after=meta.get("after"))
        except DomainError as exc:
            raise receive.Refusal(exc.code, str(exc), 409) from exc
        SyncBatch.create(batch_id=env.header.batch_hex, sender=hub.id, first_seq=0, last_seq=0,
                         received_at=receive.now_iso(), applied=result["applied"])
    suggestions.take(ctx, meta.get("suggest"))  # after the events, as over the link
    return result["applied"]
