"""Device events: the devices daemon POSTs scans, RFID tags and card insertions here,
and desk and kiosk pages receive them live as server-sent events.

The pub/sub is in-process and bounded: each listener has a small queue (the
oldest event is dropped when a page falls behind), and only a few streams may
be open at once because each holds a waitress thread: a new stream ends the
oldest one, and every stream ends after a few minutes (the browser's
EventSource reconnects by itself), with a heartbeat in between so a closed
tab is noticed.
"""

from __future__ import annotations

import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Callable

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import gettext as _

from .auth import STAFF, identity, public, requires
from .errors import json_error

log = logging.getLogger(__name__)

bp = Blueprint("device_events", __name__)

TOKEN_HEADER = "X-Thuvien-Device-Token"
ACTIONS = {"barcode": ("scan",), "rfid": ("present", "removed"),
           "card": ("inserted", "removed")}
MAX_BODY = 64 * 1024
MAX_TAGS = 64
# The devices of a kiosk's own station, by source, when `kiosk_devices` does not name
# them: the names devices.json gives the kiosk's scanner, pad and card reader.
DEFAULT_KIOSK_DEVICES = ("scanner:kiosk", "rfid:pad", "card:kiosk")
_END = object()


class Broker:
    """Fan-out of device events to a bounded set of listeners."""

    def __init__(self, max_listeners=4, queue_size=64):
        self.max_listeners = max_listeners
        self.queue_size = queue_size
        self._listeners: list[tuple[queue.Queue, Callable | None]] = []
        self._lock = threading.Lock()

    def subscribe(self, accepts=None) -> queue.Queue:
        """A queue of the events `accepts(event)` is true for (every event if None)."""
        q: queue.Queue = queue.Queue(self.queue_size)
        with self._lock:
            while len(self._listeners) >= self.max_listeners:
                self._offer(self._listeners.pop(0)[0], _END)  # newest page wins
            self._listeners.append((q, accepts))
        return q

    def unsubscribe(self, q):
        with self._lock:
            self._listeners = [entry for entry in self._listeners if entry[0] is not q]

    def publish(self, event) -> int:
        with self._lock:
            listeners = [q for q, accepts in self._listeners if accepts is None or accepts(event)]
        for q in listeners:
            self._offer(q, event)
        return len(listeners)

    @staticmethod
    def _offer(q, item):
        while True:
            try:
                q.put_nowait(item)
                return
            except queue.Full:
                try:
                    q.get_nowait()  # a page that falls behind loses the oldest event
                except queue.Empty:
                    pass

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._listeners)


def broker(app=None) -> Broker:
    app = app or current_app
    if "device_events" not in app.extensions:
        settings = app.extensions["thuvien"].settings
        app.extensions["device_events"] = Broker(int(settings.get("event_streams_max", 4)))
    return app.extensions["device_events"]


def _device_token(ctx) -> str | None:
    if ctx.settings.get("device_token"):
        return ctx.settings["device_token"]
    if ctx.data_dir and (ctx.data_dir / "device-token").exists():
        return (ctx.data_dir / "device-token").read_text().strip()
    return None


class BadEvent(ValueError):
    pass


def validate(body) -> dict:
    """The event as the contract defines it, or BadEvent saying what is wrong."""
    if not isinstance(body, dict):
        raise BadEvent("the body must be a JSON object")
    source, kind, action, data = (body.get(k) for k in ("source", "type", "action", "data"))
    if not isinstance(source, str) or not 0 < len(source) <= 64:
        raise BadEvent("source must be a short string")
    if kind not in ACTIONS:
        raise BadEvent(f"type must be one of {', '.join(ACTIONS)}")
    if action not in ACTIONS[kind]:
        raise BadEvent(f"action of a {kind} event must be one of {', '.join(ACTIONS[kind])}")
    if not isinstance(data, dict):
        raise BadEvent("data must be an object")
    clean = {"barcode": _barcode_data, "rfid": _rfid_data, "card": _card_data}[kind](data)
    return {"source": source, "type": kind, "action": action, "data": clean,
            "at": time.time()}


def _short(value, name, limit=64, required=True):
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadEvent(f"{name} must be a non-empty string of at most {limit} characters")
    return value.strip()


def _barcode_data(data):
    return {"code": _short(data.get("code"), "data.code")}


def _card_data(data):
    return {"uid": _short(data.get("uid"), "data.uid"),
            "reader": _short(data.get("reader"), "data.reader", 128, required=False)}


def _rfid_data(data):
    tags = data.get("tags")
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise BadEvent(f"data.tags must be a list of at most {MAX_TAGS} tags")
    out = []
    for tag in tags:
        if not isinstance(tag, dict):
            raise BadEvent("each tag must be an object")
        out.append({
            "uid": _short(tag.get("uid"), "tag.uid"),
            "barcode": _short(tag.get("barcode"), "tag.barcode", required=False),
            "owner": _short(tag.get("owner"), "tag.owner", required=False),
            "set_index": _int(tag.get("set_index", 1)), "set_size": _int(tag.get("set_size", 1)),
            "afi": _int(tag.get("afi", 0)),
            "usage": tag.get("usage") if tag.get("usage") in ("item", "patron") else "item",
        })
    return {"tags": out}


def _int(value):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
        raise BadEvent("set_index, set_size and afi are whole numbers from 0 to 255")
    return value


@bp.route("/api/v1/device-events", methods=["POST"])
@public  # authenticated by the device token below, not by a user
def post_event():
    expected = _device_token(g.ctx)
    sent = request.headers.get(TOKEN_HEADER, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        return json_error("bad_device_token", _("The device token is missing or wrong."), 403)
    if (request.content_length or 0) > MAX_BODY:
        return json_error("too_large", _("The device event is too large."), 413)
    try:
        event = validate(request.get_json(silent=True))
    except BadEvent as exc:
        return json_error("bad_device_event", _("Bad device event: %(reason)s",
                                                reason=str(exc)), 400)
    listeners = broker().publish(event)
    return jsonify({"accepted": True, "listeners": listeners}), 202


def _sse(event_name, payload) -> str:
    return f"event: {event_name}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"


def kiosk_sources(settings, username) -> frozenset:
    """The sources a kiosk account's page hears: `kiosk_devices` maps an account (or "*",
    any kiosk) to the scanner, pad and card reader of its own station."""
    table = settings.get("kiosk_devices") or {}
    return frozenset(table.get(username, table.get("*", DEFAULT_KIOSK_DEVICES)))


def _accepts(who, settings):
    """A kiosk stands in a public place: it hears only its own station's devices, never
    the desk's card reader or scanner. Staff pages hear every device."""
    if who is None or who["role"] != "kiosk":
        return None
    sources = kiosk_sources(settings, who["username"])
    return lambda event: event["source"] in sources


@bp.route("/events/stream")
@requires("kiosk", *STAFF)
def stream():
    settings = g.ctx.settings
    heartbeat = float(settings.get("event_heartbeat_seconds", 15))
    lifetime = float(settings.get("event_stream_seconds", 300))
    hub = broker()
    q = hub.subscribe(_accepts(identity(), settings))

    def generate():
        deadline = time.monotonic() + lifetime
        try:
            yield "retry: 2000\n: connected\n\n"
            while (left := deadline - time.monotonic()) > 0:
                try:
                    item = q.get(timeout=min(heartbeat, left))
                except queue.Empty:
                    yield ": heartbeat\n\n"
                    continue
                if item is _END:
                    return
                yield _sse("device", item)
        finally:
            hub.unsubscribe(q)

    return Response(generate(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
