"""A new data folder: settings, database, this library, sensible default rules."""

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
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = {"library": library, "library_name": name, "role": role,
                "device_id": new_device_id(library), "secret_key": secrets.token_hex(32),
                "kiosk_pin_required": False}
    if database:
        settings["database"] = database
    save_settings(data_dir, settings)
    (data_dir / "device-token").write_text(secrets.token_urlsafe(32))
    (data_dir / "device-token").chmod(0o600)
    ctx = Context.open(data_dir)
    save_library(ctx, library, name)
    for category, item_type, values in DEFAULT_RULES:
        policy.save_rule(ctx, library, category, item_type, **values)
    return ctx


def save_library(ctx, code, name, closed_weekdays=None):
    authority.require_own(ctx, code, "settings")
    fields = {"name": name}
    if closed_weekdays is not None:
        fields["closed_weekdays"] = sorted(set(int(d) for d in closed_weekdays))
    return records.save(ctx, "library.saved", Library, "code", code, fields, library=code)


def db_path(ctx):
    return ctx.data_dir / DB_FILE
