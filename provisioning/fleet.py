"""The hub's view of its devices: registry (sync) joined with health (provisioning)."""

from __future__ import annotations

from datetime import datetime, timezone

from sync.models import Device, RetiredKey

from . import bundle
from .health import DeviceHealth


def _age_days(text, now):
    if not text:
        return None
    try:
        return (now - bundle.parse_time(text)).total_seconds() / 86400
    except Exception:
        return None


def rows(silent_days: float | None = None, behind: bool = False, now=None) -> list[dict]:
    """Every device with its health; `silent_days` keeps those not seen for longer,
    `behind` those running an older version than the newest in the fleet."""
    now = now or datetime.now(timezone.utc)
    health = {h.device: h for h in DeviceHealth.select()}
    rotated = {k.device: k.retired_at for k in RetiredKey.select().order_by(RetiredKey.id)}
    out = []
    for d in Device.select().order_by(Device.library, Device.id):
        h = health.get(d.id)
        out.append({"id": d.id, "library": d.library, "status": d.status,
                    "version": h.version if h else None,
                    "update_waiting": h.update_waiting if h else None,
                    "last_seen": d.last_seen, "silent_days": _age_days(d.last_seen, now),
                    "pending_events": h.pending_events if h else None,
                    "last_error": d.last_error, "disk_free": h.disk_free if h else None,
                    "clock_offset": h.clock_offset if h else None,
                    "key_age_days": _age_days(rotated.get(d.id, d.enrolled_at), now)})
    newest = max((r["version"] for r in out if _version_ok(r["version"])),
                 key=bundle.version_key, default=None)
    for r in out:
        r["behind"] = bool(newest and _version_ok(r["version"]) and
                           bundle.version_key(r["version"]) < bundle.version_key(newest))
    if silent_days is not None:
        out = [r for r in out if r["silent_days"] is None or r["silent_days"] > silent_days]
    if behind:
        out = [r for r in out if r["behind"]]
    return out


def _version_ok(version):
    try:
        bundle.version_key(version)
        return True
    except Exception:
        return False
