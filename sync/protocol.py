"""What goes inside a sealed batch, and who the peers are.

A payload is ``{"meta": {...}, "events": [...]}`` in the compact wire encoding,
events slimmed of the hashes the receiver recomputes. The same payload shape
goes both ways: a branch sends its events (and how far it has pulled); the hub
answers with the cursor it holds for that branch and the events the branch pulls.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.core import events as core_events

from . import envelope, keys, wire

PATH = "/sync/v1/exchange"
ENROL_PATH = "/sync/v1/enrol"
UPDATES_PATH = "/sync/v1/updates"  # offered update bundles, signed, fetched with GET


class SyncError(Exception):
    """A sync run that did not complete; ``code`` is stable, the message is for staff and logs."""

    def __init__(self, code: str, message: str, cursor: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.cursor = code, message, cursor


@dataclass(frozen=True)
class Peer:
    id: str
    sign_key: str
    box_key: str


def seal_payload(meta: dict, events: list[dict], *, sender: str, sign_key, recipient: Peer,
                 batch_id: bytes | None = None, created_ms: int | None = None) -> bytes:
    seqs = [e["seq"] for e in events if e.get("origin") == sender]
    first, last = (seqs[0], seqs[-1]) if seqs else (0, 0)
    body = wire.encode({"meta": meta, "events": wire.slim_events(events, core_events.event_hash)})
    return envelope.seal(body, sender=sender, recipient=recipient.id, first_seq=first,
                         last_seq=last, sign_key=sign_key,
                         recipient_box=keys.box_public_from(recipient.box_key), batch_id=batch_id,
                         created_ms=created_ms)


def open_payload(env: envelope.Envelope, *, me: str, box_key) -> tuple[dict, list[dict]]:
    """Decrypt a verified envelope into (meta, events with hashes restored)."""
    raw = envelope.decrypt(env, me, box_key)
    try:
        payload = wire.decode(raw)
        if not isinstance(payload, dict) or not isinstance(payload.get("meta"), dict):
            raise wire.WireError("payload has no meta")
        return payload["meta"], wire.restore_events(payload.get("events"),
                                                    core_events.event_hash)
    except wire.WireError as exc:
        raise envelope.EnvelopeError("bad_payload", str(exc)) from exc


def hub_peer(settings: dict) -> Peer:
    conf = settings.get("sync") or {}
    if not conf.get("hub_id"):
        raise SyncError("not_enrolled", "this appliance is not enrolled with a hub")
    return Peer(conf["hub_id"], conf["hub_sign_key"], conf["hub_box_key"])
