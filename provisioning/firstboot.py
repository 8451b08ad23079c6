"""First boot of a Pi: the token file on the boot partition → data folder, keys, enrolment.

Town staff write `thuvien.json` (or `thuvien.toml`) onto the SD card's boot
partition: {"hub": URL, "token": TOKEN, "library": CODE, "name": optional}.
`run` makes the data folder when there is none, enrols with the hub (the
keys are made here, by sync's enrolment), records that it is done and removes
the one-time token. Running it again after success changes nothing.
"""

from __future__ import annotations

import json
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path

from appliance.core import datadir
from appliance.core.context import Context, load_settings
from appliance.core.errors import N_, DomainError, Invalid

log = logging.getLogger(__name__)

TOKEN_FILES = ("thuvien.json", "thuvien.toml")
DONE_FILE = "firstboot.json"
# refusals a retry cannot cure: the unit stops retrying on this exit status
PERMANENT = {"bad_token", "wrong_library", "already_enrolled", "bad_url", "bad_device_id",
             "bad_library_code", "token_file_invalid", "token_file_missing", "other_library"}


class FirstBootError(DomainError):
    status = 400

    @property
    def permanent(self) -> bool:
        return self.code in PERMANENT


@dataclass(frozen=True)
class TokenFile:
    path: Path
    hub: str
    token: str
    library: str
    name: str | None = None


def find_token(boot_dir) -> TokenFile | None:
    for name in TOKEN_FILES:
        path = Path(boot_dir) / name
        if path.exists():
            return read_token(path)
    return None


def read_token(path: Path) -> TokenFile:
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8")) if path.suffix == ".toml" else json.loads(raw)
    except (OSError, UnicodeDecodeError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise FirstBootError("token_file_invalid", N_("The token file %(file)s cannot be "
                             "read: %(why)s"), file=path.name, why=str(exc)) from exc
    if not isinstance(data, dict):
        data = {}
    missing = [k for k in ("hub", "token", "library") if not isinstance(data.get(k), str)
               or not data.get(k).strip()]
    if missing:
        raise FirstBootError("token_file_invalid", N_("The token file %(file)s lacks "
                             "%(fields)s"), file=path.name, fields=", ".join(missing))
    return TokenFile(path, data["hub"].strip(), data["token"].strip(),
                     data["library"].strip().upper(), (data.get("name") or "").strip() or None)


def run(boot_dir, data_dir, enrol=None) -> dict:
    """Do the first boot; `enrol(ctx, hub, token)` defaults to sync's enrolment."""
    data_dir = Path(data_dir)
    done = data_dir / DONE_FILE
    if done.exists():
        return {"result": "already_done", **json.loads(done.read_text(encoding="utf-8"))}
    token = find_token(boot_dir)
    if token is None:
        raise FirstBootError("token_file_missing", N_("No enrolment token: put thuvien.json "
                             "on the boot partition"))
    ctx = _open_or_init(data_dir, token)
    try:
        if enrol is None:
            from sync.enrol import enrol_with as enrol
        try:
            enrol(ctx, token.hub, token.token)
        except DomainError:
            raise
        except Exception as exc:  # sync.protocol.SyncError and network faults
            code = getattr(exc, "code", "unreachable")
            raise FirstBootError(code, N_("Enrolment with %(hub)s failed: %(why)s"),
                                 hub=token.hub, why=getattr(exc, "message", str(exc))) from exc
        record = {"hub": token.hub, "library": ctx.library, "device": ctx.origin}
    finally:
        ctx.close()
    _write_done(done, record)
    _remove_token(token.path)
    return {"result": "enrolled", **record}


def _open_or_init(data_dir: Path, token: TokenFile) -> Context:
    if not (data_dir / "settings.json").exists():
        try:
            return datadir.init(data_dir, token.library, token.name or token.library)
        except Invalid as exc:
            raise FirstBootError(exc.code, exc.message, **exc.params) from exc
    library = load_settings(data_dir).get("library")
    if library != token.library:
        raise FirstBootError("other_library", N_("This Pi already holds library %(have)s; "
                             "the token is for %(want)s"), have=library, want=token.library)
    return Context.open(data_dir)


def _write_done(path: Path, record: dict):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def _remove_token(path: Path):
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except PermissionError:  # the unit's privileged ExecStartPost= removes it instead
        log.warning("cannot remove %s here; the service removes it after success", path)

