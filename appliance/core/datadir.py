"""A new data folder: settings, database, this library, sensible default rules."""

import os
import re
import secrets
from pathlib import Path

from . import authority, policy, records
from .context import DB_FILE, Context, new_device_id, save_settings
from .errors import N_, Invalid
from .models import Library

CODE_RE = re.compile(r"^[A-Z0-9-]{2,32}$")

# Starting loan rules; a library changes them at the desk.
DEFAULT_RULES = [
    ("*", "*", dict(loan_days=14, max_loans=5, max_renewals=2, fee_per_day=0)),
    ("child", "*", dict(loan_days=14, max_loans=3, max_renewals=1, fee_per_day=0)),
    ("*", "reference", dict(loan_days=0, max_loans=0, max_renewals=0, holds_allowed=False)),
]


def init(data_dir, library, name, role="branch", database=None):
    data_dir = Path(data_dir)
    if not CODE_RE.match(library or ""):
        raise Invalid("bad_library_code",
                      N_("A library code is 2 to 32 capital letters, digits or dashes."))
    if role not in ("branch", "hub"):
        raise Invalid("bad_role", N_("Unknown role: %(role)s."), role=role)
    if (data_dir / "settings.json").exists():
        raise Invalid("already_initialised", N_("%(path)s already holds a library."),
                      path=str(data_dir))
    # Only the service's user may read the folder: it holds the secret key, the device
    # token and every patron's data. Each file is made private as it is created.
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    settings = {"library": library, "library_name": name, "role": role,
                "device_id": new_device_id(library), "secret_key": secrets.token_hex(32),
                "kiosk_pin_required": True,  # a library may turn it off knowingly
                # what each kiosk account's page hears (docs/kiosk.md); "*": any kiosk
                "kiosk_devices": {"*": ["scanner:kiosk", "rfid:pad", "card:kiosk"]}}
    if database:
        settings["database"] = database
    save_settings(data_dir, settings)
    _private_file(data_dir / "device-token", secrets.token_urlsafe(32))
    if not database:  # SQLite's -wal and -shm files take the database file's mode
        _private_file(data_dir / DB_FILE, "")
    ctx = Context.open(data_dir)
    save_library(ctx, library, name)
    for category, item_type, values in DEFAULT_RULES:
        policy.save_rule(ctx, library, category, item_type, **values)
    return ctx


def _private_file(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, 0o600)  # whatever the umask


def save_library(ctx, code, name, closed_weekdays=None):
    authority.require_own(ctx, code, "settings")
    fields = {"name": name}
    if closed_weekdays is not None:
        fields["closed_weekdays"] = sorted(set(int(d) for d in closed_weekdays))
    return records.save(ctx, "library.saved", Library, "code", code, fields, library=code)


def db_path(ctx):
    return ctx.data_dir / DB_FILE
