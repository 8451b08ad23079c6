"""A town-wide card checked at the hub, over the signed and sealed device channel.

A branch holds another library's card without its PIN hash or its loans elsewhere
(appliance/core/privacy.py); the hub holds both. The branch asks ``POST /sync/v1/card``
with a sealed envelope that carries no events, only ``{"card_check": {"card", "library",
"pin"}}`` in its meta, and the hub answers with an envelope sealed to that device and
signed by the hub, naming the request it answers.

Why the device channel and not a call over TLS with a staff login: it is what every
enrolled branch already has, whatever its hub URL (an ``http://`` hub too), so the PIN is
encrypted to the hub's key end to end; the hub knows which device asks (its Ed25519
signature) and stops a revoked or unapproved one at once, so a stolen Pi or a laptop on
the library's Wi-Fi cannot try PINs; and a forged "yes" cannot be slipped in, because
the answer is signed and names the request's random batch id. Guessing is bounded at
the hub, per card, for the whole town (the PIN lock-out of core).

A person waits at the desk or the kiosk: the hub has a few seconds to answer, and after
a failure this device does not ask again for half a minute (the card is lent on its
own, under the lower limit, meanwhile).
"""

from __future__ import annotations

import logging
import os
import threading
import time

import requests

from appliance.core import events, townwide

from . import certs, envelope, keys, protocol, receive

log = logging.getLogger("thuvien.sync")

PATH = "/sync/v1/card"
TIMEOUT = (3.0, 6.0)  # connect, read: seconds a reader at the desk can wait
QUIET_S = 30.0  # after the hub failed to answer, card alone for this long without asking
MAX_AGE_MS = 5 * 60 * 1000  # a request older (or newer) than this is refused: no replays

_failed: dict[tuple, float] = {}  # (data folder, hub URL) -> when the hub last failed us
_seen: dict[str, float] = {}  # the hub's recent request ids, against replays
_lock = threading.Lock()


# The branch's side.

def ask(ctx, card: str, library: str, pin: str | None) -> dict:
    """The hub's answer about a card (core's townwide.answer, as the hub made it); raises
    townwide.Unreachable when there is none to be had in time."""
    if getattr(ctx, "practice", False):  # a practice copy (core/training) asks no one: the
        raise townwide.Unreachable("practice mode")  # hub's answer would be a real card's
    try:
        hub = protocol.hub_peer(ctx.settings)
        url = ctx.settings["sync"]["hub_url"].rstrip("/") + PATH
    except (protocol.SyncError, KeyError) as exc:
        raise townwide.Unreachable("not enrolled with a hub") from exc
    key = (str(ctx.data_dir), url)
    if time.monotonic() - _failed.get(key, -QUIET_S) < QUIET_S:
        raise townwide.Unreachable("the hub failed to answer a moment ago")
    try:
        said = _exchange(ctx, hub, url, {"card": card, "library": library, "pin": pin})
    except townwide.Unreachable:
        _failed[key] = time.monotonic()
        raise
    _failed.pop(key, None)
    return said


def _exchange(ctx, hub: protocol.Peer, url: str, question: dict) -> dict:
    mine = keys.load(ctx.data_dir)
    batch_id = os.urandom(16)
    data = protocol.seal_payload({"card_check": question}, [], sender=ctx.origin,
                                 sign_key=mine.sign, recipient=hub, batch_id=batch_id)
    try:
        with certs.hub_session(ctx) as session:
            resp = session.post(url, data=data, timeout=TIMEOUT,
                                headers={"Content-Type": "application/octet-stream"})
    except requests.RequestException as exc:
        raise townwide.Unreachable(f"no answer from the hub: {type(exc).__name__}") from exc
    if resp.status_code != 200:
        raise townwide.Unreachable(f"the hub refused: HTTP {resp.status_code} "
                                   f"{resp.text[:200]}")
    try:
        env = envelope.parse(resp.content)
        if env.header.sender != hub.id:
            raise envelope.EnvelopeError("wrong_sender", f"answer from {env.header.sender!r}")
        envelope.verify(env, keys.sign_public_from(hub.sign_key))
        meta, _ = protocol.open_payload(env, me=ctx.origin, box_key=mine.box)
    except envelope.EnvelopeError as exc:
        raise townwide.Unreachable(f"the hub's answer does not hold: {exc}") from exc
    said = meta.get("card_check")
    if meta.get("request") != batch_id.hex() or not isinstance(said, dict):
        raise townwide.Unreachable("the hub's answer is not for this request")
    return said


townwide.ask = ask  # core asks through this; it opens no sockets itself


# The hub's side.

def answer_request(ctx, data: bytes) -> bytes:
    """A device's sealed question in, the hub's sealed answer out; raises
    receive.Refusal (logged with the device's other refusals)."""
    dev, header, meta, evs = receive.open_batch(ctx, data)
    question = meta.get("card_check")
    if evs or not isinstance(question, dict):
        raise receive.Refusal("bad_batch", "a card check carries a question and no events")
    card, library, pin = question.get("card"), question.get("library"), question.get("pin")
    if not (isinstance(card, str) and isinstance(library, str)
            and (pin is None or isinstance(pin, str))):
        raise receive.Refusal("bad_batch", "a card check names a card and its library")
    _fresh(header)
    with events.writing(ctx):  # a PIN tried is counted at the hub, for the whole town
        said = townwide.answer(ctx, card.strip(), library, pin, asking=dev.library)
    if not said["ok"]:
        log.info("sync: %s asked about card %s/%s: %s", dev.id, library, card, said["code"])
    return receive.seal_for(ctx, dev, {"request": header.batch_hex, "card_check": said}, [])


def _fresh(header) -> None:
    """A question made minutes ago, or asked before, is not answered again."""
    now = time.time() * 1000
    if abs(now - header.created_ms) > MAX_AGE_MS:
        raise receive.Refusal("stale", "the card check was made too long ago (or the "
                                       "device's clock is wrong)", 409)
    with _lock:
        for old in [k for k, at in _seen.items() if now - at > 2 * MAX_AGE_MS]:
            del _seen[old]
        if header.batch_hex in _seen:
            raise receive.Refusal("replay", "this card check was answered before", 409)
        _seen[header.batch_hex] = now
