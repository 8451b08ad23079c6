"""The running version's units, linked where systemd reads them (provisioning/units.py):
what `systemctl` itself makes of the links, in a root folder (`systemctl --root`)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from provisioning import units, updates
from tests.conftest import unavailable
from tests.provisioning.conftest import fake_systemctl

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "[Unit]\nDescription={name}\n[Service]\nExecStart=/bin/true\n"


def _need_systemctl():
    if not shutil.which("systemctl"):
        unavailable("systemctl is missing (Debian package systemd)")


def _version(app, version, unit_texts):
    folder = app / "versions" / version / units.SHIPPED
    folder.mkdir(parents=True)
    for name, text in unit_texts.items():
        (folder / name).write_text(text)


def _switch(app, version):  # as the update switches
    units.replace_link(app / "current", f"versions/{version}")


@pytest.fixture
def machine(tmp_path):
    """A root folder as a Pi sees it: the app at /opt/thuvien with two versions (the
    second drops the devices unit and adds a timer), systemd's run folder made."""
    _need_systemctl()
    root = tmp_path / "root"
    app = root / "opt/thuvien"
    wanted = "[Install]\nWantedBy=multi-user.target\n"
    _version(app, "1.0", {
        "thuvien-web.service": SERVICE.format(name="web") + wanted,
        "thuvien-devices.service": SERVICE.format(name="devices") + wanted,
        "thuvien-sync.service": SERVICE.format(name="sync"),  # started by its timer
        "README": "not a unit"})
    _version(app, "2.0", {
        "thuvien-web.service": SERVICE.format(name="web 2") + wanted,
        "thuvien-sync.service": SERVICE.format(name="sync"),
        "thuvien-sync.timer": "[Unit]\nDescription=t\n[Timer]\nOnBootSec=3min\n"
                              "[Install]\nWantedBy=timers.target multi-user.target\n"})
    _switch(app, "1.0")
    (root / "run/systemd/system").mkdir(parents=True)
    return root


def _state(root, name):
    out = subprocess.run(["systemctl", f"--root={root}", "is-enabled", name],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or out.stderr.strip()


def test_a_version_s_units_are_linked_and_enabled_for_systemd(machine):
    run_dir = machine / "run/systemd/system"
    done = units.link(machine / "opt/thuvien", run_dir)
    assert done == {"linked": ["thuvien-devices.service", "thuvien-sync.service",
                               "thuvien-web.service"],
                    "enabled": ["thuvien-devices.service", "thuvien-web.service"],
                    "removed": []}
    assert _state(machine, "thuvien-web.service") == "enabled-runtime"
    assert _state(machine, "thuvien-devices.service") == "enabled-runtime"
    # no [Install]: loadable (its timer starts it), not enabled
    assert _state(machine, "thuvien-sync.service") == "linked-runtime"
    # relative and through `current`: the same inside this folder and on the Pi
    assert os.readlink(run_dir / "thuvien-web.service") == \
        "../../../opt/thuvien/current/site/provisioning/systemd/thuvien-web.service"
    assert "Description=web\n" in (run_dir / "thuvien-web.service").read_text()


def test_a_switch_brings_the_new_version_s_units_and_drops_the_old_ones(machine):
    run_dir, app = machine / "run/systemd/system", machine / "opt/thuvien"
    units.link(app, run_dir)
    _switch(app, "2.0")
    # before linking again, the links already read the new version's text
    assert "Description=web 2\n" in (run_dir / "thuvien-web.service").read_text()
    done = units.link(app, run_dir)
    assert done["removed"] == ["multi-user.target.wants/thuvien-devices.service",
                               "thuvien-devices.service"]
    assert done["enabled"] == ["thuvien-sync.timer", "thuvien-web.service"]
    assert _state(machine, "thuvien-sync.timer") == "enabled-runtime"
    assert (run_dir / "timers.target.wants/thuvien-sync.timer").is_symlink()
    assert not (run_dir / "thuvien-devices.service").exists()
    assert "No such file" in _state(machine, "thuvien-devices.service")
    # a rollback links the old set again; links of others are never touched
    (run_dir / "someone-else.service").symlink_to("/dev/null")
    _switch(app, "1.0")
    assert units.link(app, run_dir)["removed"] == [
        "multi-user.target.wants/thuvien-sync.timer", "thuvien-sync.timer",
        "timers.target.wants/thuvien-sync.timer"]
    assert _state(machine, "thuvien-devices.service") == "enabled-runtime"
    assert (run_dir / "someone-else.service").is_symlink()


def test_a_version_without_units_is_refused_and_nothing_is_unlinked(machine):
    run_dir, app = machine / "run/systemd/system", machine / "opt/thuvien"
    units.link(app, run_dir)
    (app / "versions/3.0/site").mkdir(parents=True)
    _switch(app, "3.0")
    with pytest.raises(FileNotFoundError):
        units.link(app, run_dir)
    assert (run_dir / "multi-user.target.wants/thuvien-web.service").is_symlink()


def test_at_start_systemd_reloads_and_starts_what_is_enabled(machine, tmp_path, monkeypatch):
    said = fake_systemctl(tmp_path, monkeypatch)
    units.start(machine / "opt/thuvien", machine / "run/systemd/system")
    assert said.read_text().splitlines() == [
        "daemon-reload", "start --no-block thuvien-devices.service thuvien-web.service"]


def test_an_update_goes_on_when_linking_fails(machine, tmp_path, monkeypatch, caplog):
    """The health check judges the version; the next start links again."""
    said = fake_systemctl(tmp_path, monkeypatch, fail=True)
    services = updates.Services("thuvien-web.service", (),
                                units.Linker(machine / "opt/thuvien", machine / "nowhere"))
    (machine / "nowhere").write_text("a file where the run folder should be")
    with pytest.raises(subprocess.CalledProcessError):  # the restart itself failing
        services.restart()
    assert "linking the units" in caplog.text
    assert said.read_text().splitlines() == ["restart thuvien-web.service"]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "appliance.cli", "update", "units", *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_the_command_links_and_refuses_where_systemd_does_not_run(machine, tmp_path):
    app, run_dir = machine / "opt/thuvien", machine / "run/systemd/system"
    out = _cli("--root", str(app), "--run-dir", str(run_dir))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["enabled"] == ["thuvien-devices.service",
                                                 "thuvien-web.service"]
    missing = _cli("--root", str(app), "--run-dir", str(tmp_path / "no/run"))
    assert missing.returncode == 1
    assert "systemd does not run this machine" in missing.stderr
    (app / "versions/3.0/site").mkdir(parents=True)
    _switch(app, "3.0")
    none = _cli("--root", str(app), "--run-dir", str(run_dir))
    assert none.returncode == 1 and "no systemd units to link" in none.stderr


def test_only_a_pi_whose_units_are_its_version_s_links_them(machine, monkeypatch):
    """A hub's server, or a card imaged before, keeps its own units: an update run there
    by hand must not link and start the Pi's (the kiosk, the devices daemon...)."""
    run_dir = machine / "run/systemd/system"
    image_unit = machine / "etc/systemd/system" / units.BOOTSTRAP
    monkeypatch.setattr(units, "RUN_DIR", run_dir)
    monkeypatch.setattr(units, "IMAGE_UNIT", image_unit)
    assert units.here(machine / "opt/thuvien") is None
    image_unit.parent.mkdir(parents=True)
    image_unit.write_text("[Unit]\n")
    linker = units.here(machine / "opt/thuvien")
    assert linker is not None and linker.run_dir == run_dir
    run_dir.rmdir()  # systemd does not run this machine
    assert units.here(machine / "opt/thuvien") is None
