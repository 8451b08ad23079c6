"""Config bundles: issued (signed) at the hub, applied atomically on a device.

The hub keeps every published config as a row; a device gets the newest one
that applies to it (its own over its library's over the town's) as a signed
bundle, and applies it only after `bundle.verify`. Applying rewrites the
settings file the appliance reads (temp file + fsync + rename) and keeps the
previous settings beside it.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import peewee as pw

from appliance.core import db as coredb
from appliance.core.context import SETTINGS_FILE, load_settings, save_settings
from appliance.core.datadir import CODE_RE
from appliance.core.errors import N_, Invalid, Refused
from appliance.core.models import BaseModel, JSONField
from sync import keys
from sync.models import Device

from . import bundle, window

PREVIOUS_FILE = "settings.prev.json"
BUNDLE_FILE = "config-bundle.json"
# what a bundle may set; identity (library, device_id, role, secrets) never comes from outside
SECTIONS = {"library_name", "hub_url", "hub_keys", "sync_schedule", "kiosk", "devices",
            "policies", "kiosk_pin_required", "update_window"}
VALID_FOR = timedelta(days=365)


class PublishedConfig(BaseModel):
    """At the hub: one published config; scope "*" means every library or device."""

    version = pw.IntegerField(index=True)
    library = pw.CharField(max_length=32, default=bundle.ANY)
    device = pw.CharField(max_length=64, default=bundle.ANY)
    body = JSONField()
    published_at = pw.CharField(max_length=32)


coredb.register_models(PublishedConfig)


def check_body(body) -> dict:
    if not isinstance(body, dict):
        raise Invalid("config_not_object", N_("A configuration must be a JSON object"))
    unknown = sorted(set(body) - SECTIONS)
    if unknown:
        raise Invalid("config_unknown_section", N_("Unknown configuration sections: "
                      "%(names)s"), names=", ".join(unknown))
    for entry in body.get("hub_keys", []):
        bundle.TrustedKey.from_dict(entry)
    if "update_window" in body:  # a device must never be left with one it cannot read
        window.parse(body["update_window"])
    return body


# --- hub side --------------------------------------------------------------------------------

def publish(ctx, body: dict, library=bundle.ANY, device=bundle.ANY) -> PublishedConfig:
    """Record a config change; devices get it as a new signed bundle at their next sync."""
    if ctx.role != "hub":
        raise Refused("not_hub", N_("Only the hub publishes the devices' configuration."))
    check_body(body)
    library, device = scope(library, device)
    with ctx.db.atomic():
        latest = PublishedConfig.select(pw.fn.MAX(PublishedConfig.version)).scalar() or 0
        return PublishedConfig.create(version=latest + 1, library=library, device=device,
                                      body=body, published_at=bundle.iso(bundle.utcnow()))


def scope(library=bundle.ANY, device=bundle.ANY) -> tuple[str, str]:
    """(library, device) a config is published for: the town ("*", "*"), a library, or
    one enrolled device, which is of its library too (its bundle names both). A typo is
    refused rather than published for no device at all."""
    library, device = (library or bundle.ANY).strip(), (device or bundle.ANY).strip()
    if device != bundle.ANY:
        row = Device.get_or_none(Device.id == device)
        if row is None:
            raise Invalid("config_unknown_device", N_("No device %(device)s is enrolled at "
                          "this hub."), device=device)
        if library not in (bundle.ANY, row.library):
            raise Invalid("config_device_elsewhere", N_("Device %(device)s serves library "
                          "%(home)s, not %(library)s."), device=device, home=row.library,
                          library=library)
        return row.library, device
    if library != bundle.ANY and not CODE_RE.match(library):
        raise Invalid("bad_library_code",
                      N_("A library code is 2 to 32 capital letters, digits or dashes."))
    return library, device


def published(limit: int = 50) -> list[PublishedConfig]:
    """The configs published, newest first."""
    return list(PublishedConfig.select().order_by(PublishedConfig.version.desc()).limit(limit))


def effective(library: str, device: str) -> tuple[int, dict]:
    """Town-wide, then library, then device settings merged; version = newest that applies."""
    rows = (PublishedConfig.select()
            .where(PublishedConfig.library.in_([bundle.ANY, library]),
                   PublishedConfig.device.in_([bundle.ANY, device]))
            .order_by(PublishedConfig.version))
    merged, version = {}, 0
    for row in sorted(rows, key=lambda r: (r.device != bundle.ANY, r.library != bundle.ANY,
                                           r.version)):
        merged.update(row.body)
        version = max(version, row.version)
    return version, merged


def bundle_for(ctx, library: str, device: str, have: int = 0, now=None) -> dict | None:
    """The signed bundle a device should apply, or None when it is up to date."""
    version, body = effective(library, device)
    if version <= have:
        return None
    hub_key = keys.load_or_create(ctx.data_dir).sign
    payload = bundle.make_payload("config", version, body, library=library, device=device,
                                  now=now, valid_for=VALID_FOR)
    return bundle.sign(payload, hub_key)


# --- device side -----------------------------------------------------------------------------

def trusted_keys(settings: dict) -> dict:
    """The hub key learnt at enrolment, plus keys announced for a rotation."""
    ring = {}
    hub_key = (settings.get("sync") or {}).get("hub_sign_key")
    if hub_key:
        ring.update(bundle.trust(keys.sign_public_from(hub_key)))
    for entry in settings.get("hub_keys", []):
        key = bundle.TrustedKey.from_dict(entry)
        ring[key.key_id] = key
    return ring


def apply_bundle(data_dir, doc: dict, now=None) -> dict:
    """Verify `doc` against this device's trusted hub keys and apply it; returns the new
    settings. A refused bundle raises and leaves the settings untouched."""
    data_dir = Path(data_dir)
    settings = load_settings(data_dir)
    payload = bundle.verify(doc, trusted_keys(settings), kind="config",
                            installed=settings.get("config_version", 0),
                            library=settings["library"], device=settings["device_id"], now=now)
    body = check_body(payload["body"])
    new = json.loads(json.dumps(settings))
    for name, value in body.items():
        if name == "hub_url":
            new.setdefault("sync", {})["hub_url"] = value.rstrip("/")
        else:
            new[name] = value
    new["config_version"] = payload["version"]
    _keep_previous(data_dir)
    _write_atomic(data_dir / BUNDLE_FILE, bundle.dumps(doc))
    save_settings(data_dir, new)
    return new


def _keep_previous(data_dir: Path):
    tmp = data_dir / (PREVIOUS_FILE + ".tmp")
    shutil.copyfile(data_dir / SETTINGS_FILE, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, data_dir / PREVIOUS_FILE)


def _write_atomic(path: Path, text: str):
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
