"""Device health: reported by each device with its sync, kept at the hub for the fleet page.

Device side, `report(ctx)` is a small dict for the sync payload's meta; hub
side, `record(device_id, report)` keeps the latest one per device, with the
clock offset measured against the hub's own clock on arrival.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import peewee as pw

import appliance
from appliance.core import db as coredb
from appliance.core import events
from appliance.core.models import BaseModel

from . import bundle, window


class DeviceHealth(BaseModel):
    device = pw.CharField(primary_key=True, max_length=64)
    version = pw.CharField(max_length=32, null=True)
    config_version = pw.IntegerField(default=0)
    pending_events = pw.IntegerField(null=True)
    disk_free = pw.BigIntegerField(null=True)
    clock_offset = pw.FloatField(null=True)  # device clock minus hub clock, seconds
    reported_at = pw.CharField(max_length=32)
    update_waiting = pw.CharField(max_length=32, null=True)  # the version, window.WAITING


coredb.register_models(DeviceHealth)


def report(ctx, acked_seq: int = 0) -> dict:
    """What a device tells the hub about itself at each sync."""
    return {"version": appliance.__version__,
            "config_version": ctx.settings.get("config_version", 0),
            "pending_events": events.pending_count(ctx.origin, acked_seq),
            "disk_free": shutil.disk_usage(ctx.data_dir or ".").free,
            "clock": bundle.iso(datetime.now(timezone.utc)),
            "update_waiting": waiting_version(ctx.data_dir)}


def waiting_version(data_dir) -> str | None:
    """The newest version kept here for the update window, if any (its bundle's name)."""
    folder = Path(data_dir or ".") / window.WAITING
    names = (bundle.UPDATE_FILE.match(p.name) for p in folder.glob("*.tvu"))
    return max((m["version"] for m in names if m), key=bundle.version_key, default=None)


def record(device_id: str, data: dict, now: datetime | None = None) -> DeviceHealth:
    """Keep a device's latest report; malformed fields are dropped, never trusted."""
    now = now or datetime.now(timezone.utc)
    offset = None
    try:
        offset = (bundle.parse_time(str(data.get("clock"))) - now).total_seconds()
    except Exception:  # a report without a readable clock still counts as a report
        pass
    row = {"device": device_id, "version": _text(data.get("version"), 32),
           "config_version": _int(data.get("config_version")) or 0,
           "pending_events": _int(data.get("pending_events")),
           "disk_free": _int(data.get("disk_free")), "clock_offset": offset,
           "reported_at": bundle.iso(now),
           "update_waiting": _text(data.get("update_waiting"), 32)}
    DeviceHealth.insert(**row).on_conflict(  # an upsert SQLite and PostgreSQL both speak
        conflict_target=[DeviceHealth.device],
        update={getattr(DeviceHealth, k): v for k, v in row.items() if k != "device"}).execute()
    return DeviceHealth.get_by_id(device_id)


def _int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


def _text(value, size):
    return value[:size] if isinstance(value, str) else None


def ensure_tables(db) -> None:
    """For a database opened before this module was imported (tests, the hub's app)."""
    db.create_tables([DeviceHealth], safe=True)
