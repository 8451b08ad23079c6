"""The arrows of docs/design.md point inward: core imports no web, socket or device library;
devices import nothing of the appliance."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports(folder):
    for path in sorted((ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield path, node.module


def offenders(folder, forbidden):
    return [f"{path.relative_to(ROOT)}: {name}" for path, name in imports(folder)
            if name.split(".")[0] in forbidden]


def test_core_imports_no_web_socket_or_device_library():
    assert offenders("appliance/core", {"flask", "flask_babel", "werkzeug", "waitress",
                                        "socket", "socketserver", "requests", "serial",
                                        "evdev", "smartcard", "sync", "devices"}) == []


def test_devices_import_nothing_of_the_appliance():
    assert offenders("devices", {"appliance", "sync", "provisioning", "flask"}) == []


def test_sync_writes_state_only_through_core():
    # sync may use core's commands and events, never the projector's tables directly.
    bad = [f"{path.relative_to(ROOT)}" for path, name in imports("sync")
           if name == "appliance.core.projector"]
    assert bad == []
