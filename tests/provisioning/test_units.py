"""Every unit in systemd/ passes `systemd-analyze verify` and keeps its hardening.

verify checks ExecStart paths inside --root, so the units are verified in a
temporary root holding the host's systemd units and stub executables at the
paths the Pi image installs; any other path, unknown key or warning fails.
"""

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from provisioning import updates
from tests.conftest import unavailable

UNITS_DIR = Path(__file__).resolve().parents[2] / "systemd"
UNITS = sorted(p for p in UNITS_DIR.iterdir() if p.suffix in {".service", ".timer", ".path"})
# the executables the image provides (provisioning/image/customise.sh)
IMAGE_EXECUTABLES = ["/opt/thuvien/current/bin/thuvien", "/usr/bin/cage", "/usr/bin/chromium",
                     "/bin/rm"]
HOST_UNITS = Path("/usr/lib/systemd/system")
BOOTSTRAP = UNITS_DIR.parent / "provisioning/image/files/thuvien-units.service"


def _need_systemd_analyze():
    if shutil.which("systemd-analyze") and HOST_UNITS.is_dir():
        return
    unavailable("systemd-analyze is missing (Debian package systemd)")


def _parse(path):
    cp = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    cp.optionxform = str
    # systemd allows repeated keys (DeviceAllow=); keep the last, enough for these checks
    text = path.read_text().replace("\\\n", " ")
    cp.read_string(text)
    return cp


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    _need_systemd_analyze()
    root = systemd_root(tmp_path_factory.mktemp("root"))
    unit_dir = root / "etc/systemd/system"
    unit_dir.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(unit, unit_dir / unit.name)
    return root


def systemd_root(root):
    """`root` made one systemd-analyze can verify units in: the host's own units, and a
    stub at each path the image provides an executable (unless the root has it)."""
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True,
                    dirs_exist_ok=True)
    for exe in IMAGE_EXECUTABLES:
        stub = root / exe.lstrip("/")
        if not stub.exists():
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_text("#!/bin/sh\nexit 0\n")
            stub.chmod(0o755)
    return root


def verify(root, *names, timeout=60):
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", *names],
        capture_output=True, text=True, timeout=timeout)


def test_the_expected_units_exist():
    names = {u.name for u in UNITS}
    for name in ["thuvien-web.service", "thuvien-devices.service", "thuvien-sync.service",
                 "thuvien-sync.timer", "thuvien-backup.service", "thuvien-backup.timer",
                 "thuvien-kiosk.service", "thuvien-firstboot.service",
                 "thuvien-update.service", "thuvien-update.path"]:
        assert name in names


def test_every_unit_verifies_cleanly(fake_root):
    result = verify(fake_root, *[u.name for u in UNITS])
    out = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and out == "", out


def test_the_image_s_own_unit_verifies_cleanly_and_is_hardened(fake_root):
    """thuvien-units.service, which links the version's units at each start
    (provisioning/units.py), is the image's: it is checked as the others are."""
    shutil.copy(BOOTSTRAP, fake_root / "etc/systemd/system" / BOOTSTRAP.name)
    result = verify(fake_root, BOOTSTRAP.name)
    out = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and out == "", out
    unit = _parse(BOOTSTRAP)
    svc = unit["Service"]
    assert svc["ExecStart"].split()[1:] == ["update", "units", "--start"]
    assert svc["ProtectSystem"] == "strict" and svc["ReadWritePaths"] == "/run/systemd/system"
    assert svc["NoNewPrivileges"] == "yes" and svc["ProtectHome"] == "yes"
    assert "/var/lib/thuvien" in unit["Unit"]["RequiresMountsFor"]
    update = _parse(UNITS_DIR / "thuvien-update.service")["Service"]["ReadWritePaths"]
    assert "/run/systemd/system" in update.split()  # links again after a switch


def test_verify_catches_a_broken_unit(fake_root):
    """The check above is only worth something if verify does complain here."""
    broken = fake_root / "etc/systemd/system/thuvien-broken.service"
    text = (UNITS_DIR / "thuvien-web.service").read_text()
    broken.write_text(text.replace("WatchdogSec=30", "WatchdogSecs=30").replace(
        "/opt/thuvien/current/bin/thuvien", "/opt/thuvien/current/bin/thuvienx"))
    try:
        result = verify(fake_root, broken.name)
    finally:
        broken.unlink()
    out = result.stdout + result.stderr
    assert "Unknown key 'WatchdogSecs'" in out
    assert "is not executable" in out


def test_web_service_is_notify_with_watchdog():
    svc = _parse(UNITS_DIR / "thuvien-web.service")["Service"]
    assert svc["Type"] == "notify"
    assert int(svc["WatchdogSec"]) > 0
    assert svc["Restart"] in {"always", "on-failure", "on-watchdog"}


@pytest.mark.parametrize("name", [u.name for u in UNITS if u.suffix == ".service"])
def test_services_are_hardened(name):
    svc = _parse(UNITS_DIR / name)["Service"]
    assert svc["ProtectSystem"] == "strict"
    assert svc.get("ProtectHome") == "yes"
    if name != "thuvien-update.service":  # installs software and restarts units: root
        assert svc["User"].startswith("thuvien")
    if name != "thuvien-kiosk.service":  # Chromium's sandbox needs its setuid helper
        assert svc["NoNewPrivileges"] == "yes"
    if svc.get("User") == "thuvien":
        assert "thuvien/data" in svc["StateDirectory"]


def test_firstboot_runs_only_with_a_token_file():
    unit = _parse(UNITS_DIR / "thuvien-firstboot.service")["Unit"]
    text = (UNITS_DIR / "thuvien-firstboot.service").read_text()
    assert "ConditionPathExists=|/boot/firmware/thuvien.json" in text
    assert "ConditionPathExists=|/boot/firmware/thuvien.toml" in text
    assert "thuvien-web.service" in unit["Before"]


def test_timers_point_at_their_services():
    for timer in [u for u in UNITS if u.suffix == ".timer"]:
        section = _parse(timer)["Timer"]
        assert (UNITS_DIR / section["Unit"]).exists()
    backup = _parse(UNITS_DIR / "thuvien-backup.timer")["Timer"]
    assert backup["Persistent"] == "true" and "OnCalendar" in backup


def test_update_checks_the_pages_the_web_service_serves():
    """An update is rolled back unless the restarted web service renders its pages: the
    update unit names the very port thuvien-web.service listens on."""
    update = _parse(UNITS_DIR / "thuvien-update.service")["Service"]["ExecStart"].split()
    web = _parse(UNITS_DIR / "thuvien-web.service")["Service"]["ExecStart"].split()
    url = update[update.index("--health-url") + 1]
    assert url == f"http://127.0.0.1:{web[web.index('--port') + 1]}"
    assert update[update.index("--restart") + 1] == "thuvien-web.service"


def test_update_notice_answers_on_the_ports_the_web_service_serves():
    """While the web service is stopped for a migration, the update answers on the very
    ports it listens on (HTTP, and HTTPS at `thuvien serve`'s default port)."""
    from appliance.cli import build_parser

    update = _parse(UNITS_DIR / "thuvien-update.service")["Service"]["ExecStart"].split()
    web = _parse(UNITS_DIR / "thuvien-web.service")["Service"]["ExecStart"].split()
    host, port = web[web.index("--host") + 1], web[web.index("--port") + 1]
    serve = build_parser().parse_args(["serve"])
    https = web[web.index("--https-port") + 1] if "--https-port" in web else serve.https_port
    assert update[update.index("--notice-http") + 1] == f"{host}:{port}"
    assert update[update.index("--notice-https") + 1] == f"{host}:{https}"


def test_update_pauses_the_units_that_write_the_database():
    """Sync writes the library's database too: the update unit pauses its timer and a
    run under way while a new schema is migrated (tests/provisioning/test_updates.py)."""
    update = _parse(UNITS_DIR / "thuvien-update.service")["Service"]["ExecStart"].split()
    paused = [update[n + 1] for n, word in enumerate(update) if word == "--pause"]
    assert paused == ["thuvien-sync.timer", "thuvien-sync.service"]
    assert all((UNITS_DIR / unit).exists() for unit in paused)


def _seconds(span):
    """A systemd time span such as "120", "15min" or "3h 30min", in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "hr": 3600}
    total = 0
    for number, unit in re.findall(r"(\d+)\s*([a-z]*)", span):
        total += int(number) * units[unit]
    return total


def test_update_timeouts_leave_room_for_a_migration_and_its_rollback():
    """systemd never cuts off an update half way: the update unit allows the migration's
    own limit, the schema check, a stop and a restart each way, the health check and the
    carrying of what a rolled-back version wrote; the
    web unit's start timeout, which a migration no longer runs under, is shorter than the
    wait for its restart, so systemctl reports a failed start before the update gives up."""
    web = _seconds(_parse(UNITS_DIR / "thuvien-web.service")["Service"]["TimeoutStartSec"])
    update = _seconds(_parse(UNITS_DIR / "thuvien-update.service")["Service"]
                      ["TimeoutStartSec"])
    assert web < updates.RESTART_TIMEOUT and web > updates.HEALTH_TIMEOUT
    worst = (updates.CHECK_TIMEOUT + updates.MIGRATE_TIMEOUT + 4 * updates.RESTART_TIMEOUT
             + updates.HEALTH_TIMEOUT + updates.CARRY_TIMEOUT)
    copy_and_restore = 15 * 60  # the database copied once, copied back once
    assert update >= worst + copy_and_restore, (update, worst)
    assert _seconds("3h 30min") == 12600 and _seconds("120") == 120
