"""The devices daemon's configuration: `devices.json` (or `devices.toml`) in the data folder.

    {
      "appliance": "http://127.0.0.1:8080",
      "api": {"host": "127.0.0.1", "port": 6002},
      "scanners": [
        {"name": "desk", "kind": "serial", "port": "/dev/serial/by-id/usb-...", "baudrate": 9600},
        {"name": "kiosk", "kind": "evdev", "match": "Honeywell", "vid": "0c2e", "pid": "0b01"}
      ],
      "rfid": {"name": "pad", "protocol": "feig", "port": "/dev/ttyUSB0", "poll": 0.3,
               "baudrate": 38400, "parity": "E"},
      "cards": {"name": "reader0", "readers": ["ACS ACR122U"]},
      "printer": {"target": "/dev/usb/lp0", "width": 576}
    }

Every section is optional. The token for posting events is the content of `device-token`
in the same folder (made by `thuvien init`).
"""

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_APPLIANCE = "http://127.0.0.1:8080"
DEFAULT_PORT = 6002
PROTOCOLS = ("3m810", "feig")
SCANNER_KINDS = ("serial", "evdev")


class ConfigError(ValueError):
    pass


@dataclass
class Config:
    appliance: str = DEFAULT_APPLIANCE
    token: str = ""
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    scanners: list = field(default_factory=list)
    rfid: dict | None = None
    cards: dict | None = None
    printer: dict | None = None
    backoff: tuple = (0.5, 30.0)  # first and longest wait before restarting a driver


def _hex_id(value, what):
    if value is None or isinstance(value, int):
        return value
    try:
        return int(str(value), 16)
    except ValueError:
        raise ConfigError(f"{what} must be a hex USB id like '0c2e', not {value!r}") from None


def _scanner(entry: dict, i: int) -> dict:
    name = entry.get("name") or f"scanner{i}"
    kind = entry.get("kind", "serial")
    if kind not in SCANNER_KINDS:
        raise ConfigError(f"scanner {name}: kind must be one of {SCANNER_KINDS}")
    if kind == "serial" and not entry.get("port"):
        raise ConfigError(f"scanner {name}: a serial scanner needs 'port'")
    if kind == "evdev" and not (entry.get("match") or entry.get("vid")):
        raise ConfigError(f"scanner {name}: an evdev scanner needs 'match' or 'vid'")
    return {**entry, "name": name, "kind": kind, "vid": _hex_id(entry.get("vid"), "vid"),
            "pid": _hex_id(entry.get("pid"), "pid")}


def _rfid(entry: dict | None) -> dict | None:
    if not entry:
        return None
    if entry.get("protocol") not in PROTOCOLS:
        raise ConfigError(f"rfid: protocol must be one of {PROTOCOLS}")
    if not entry.get("port"):
        raise ConfigError("rfid: 'port' is missing")
    if entry.get("parity") not in (None, "N", "E", "O"):
        raise ConfigError("rfid: parity must be N, E or O")
    return {"name": "pad", "poll": 0.3, **entry}


def parse(raw: dict, token: str = "") -> Config:
    if not isinstance(raw, dict):
        raise ConfigError("the devices configuration must be an object")
    unknown = set(raw) - {"appliance", "api", "scanners", "rfid", "cards", "printer",
                          "backoff"}
    if unknown:
        raise ConfigError(f"unknown sections: {', '.join(sorted(unknown))}")
    api = raw.get("api") or {}
    host = api.get("host", "127.0.0.1")
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ConfigError("the command API listens on the loopback only")
    printer = raw.get("printer")
    if printer and (not printer.get("target") or printer.get("width", 384) not in (384, 576)):
        raise ConfigError("printer: needs 'target' and a width of 384 or 576 dots")
    cards = raw.get("cards")
    backoff = raw.get("backoff") or {}
    return Config(
        appliance=str(raw.get("appliance", DEFAULT_APPLIANCE)).rstrip("/"),
        token=token, host=host, port=int(api.get("port", DEFAULT_PORT)),
        scanners=[_scanner(s, i) for i, s in enumerate(raw.get("scanners") or [])],
        rfid=_rfid(raw.get("rfid")),
        cards={"name": "reader0", **cards} if cards is not None and cards is not False else None,
        printer=printer or None,
        backoff=(float(backoff.get("initial", 0.5)), float(backoff.get("max", 30.0))),
    )


def load(data_dir) -> Config:
    """Read devices.json or devices.toml and device-token from the data folder."""
    data_dir = Path(data_dir)
    token_file = data_dir / "device-token"
    token = token_file.read_text().strip() if token_file.exists() else ""
    for name, reader in (("devices.json", json.loads), ("devices.toml", tomllib.loads)):
        path = data_dir / name
        if path.exists():
            try:
                return parse(reader(path.read_text(encoding="utf-8")), token)
            except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"{path.name}: {exc}") from None
    return parse({}, token)
