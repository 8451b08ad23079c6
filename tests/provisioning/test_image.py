"""The image's customisation steps, run against a temporary root folder (no chroot)."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.provisioning.test_units import systemd_root, verify

ROOT = Path(__file__).resolve().parents[2]
CUSTOMISE = ROOT / "provisioning/image/customise.sh"
BOOTSTRAP = ROOT / "provisioning/image/files/thuvien-units.service"
PI_CMDLINE = ("console=serial0,115200 console=tty1 root=LABEL=rootfs rootfstype=ext4 "
              "fsck.repair=yes rootwait rw init=/usr/lib/raspberrypi-sys-mods/firstboot\n")


def _need_tools():
    missing = [t for t in ("systemd-sysusers", "systemctl") if not shutil.which(t)]
    if missing:
        unavailable(f"missing {missing} (Debian package systemd)")


def _customise(root, wheel, steps=None):
    cmd = ["bash", str(CUSTOMISE), "--root", str(root), "--wheel", str(wheel),
           "--python", sys.executable]
    if steps:
        cmd += ["--steps", steps]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture(scope="module")
def image_root(tmp_path_factory, wheels):
    _need_tools()
    root = tmp_path_factory.mktemp("image-root")
    (root / "boot/firmware").mkdir(parents=True)
    (root / "boot/firmware/cmdline.txt").write_text(PI_CMDLINE)
    for _ in range(2):  # every step can be re-run
        result = _customise(root, wheels["0.2.0"])
        assert result.returncode == 0, result.stderr
    return root


def _inside(root, path):
    """Resolve `path` as the Pi would see it, following absolute links inside `root`."""
    current = root
    for part in Path(path).relative_to("/").parts:
        current = current / part
        for _ in range(10):
            if not current.is_symlink():
                break
            target = Path(os.readlink(current))
            current = (root / target.relative_to("/")) if target.is_absolute() else \
                current.parent / target
    return current


def test_accounts(image_root):
    passwd = {line.split(":")[0]: line.split(":") for line in
              (image_root / "etc/passwd").read_text().splitlines()}
    assert passwd["thuvien"][6] == "/usr/sbin/nologin"
    assert passwd["thuvien-kiosk"][6] == "/usr/sbin/nologin"
    groups = {line.split(":")[0]: line.split(":")[3].split(",") for line in
              (image_root / "etc/group").read_text().splitlines()}
    assert "thuvien" in groups["input"] and "thuvien" in groups["dialout"]
    assert "thuvien-kiosk" in groups["video"]


def test_the_image_holds_one_unit_of_its_own(image_root):
    """Every other unit is the version's, linked at each start (provisioning/units.py):
    copies in /etc, on a read-only root, would never change with an update."""
    etc = image_root / "etc/systemd/system"
    ours = sorted(str(p.relative_to(etc)) for p in etc.rglob("thuvien-*"))
    assert ours == ["multi-user.target.wants/thuvien-units.service", "thuvien-units.service"]
    assert os.readlink(etc / "multi-user.target.wants/thuvien-units.service") == \
        "/etc/systemd/system/thuvien-units.service"
    assert os.readlink(etc / "default.target") == "/lib/systemd/system/graphical.target"
    assert os.readlink(etc / "apt-daily.timer") == "/dev/null"


def test_at_start_the_installed_version_s_units_are_enabled(image_root, tmp_path):
    """What thuvien-units.service runs, with the image's launcher (the wheel's code),
    as systemd would find it: the wheel's units enabled as their [Install] says."""
    root = tmp_path / "pi"
    shutil.copytree(image_root, root, symlinks=True)
    run_dir = root / "run/systemd/system"
    run_dir.mkdir(parents=True)  # systemd makes it as it starts
    # the image's /opt/thuvien points at the data partition, absolute, which this
    # machine would read as its own: the same link, relative, reads inside the copy
    assert os.readlink(root / "opt/thuvien") == "/var/lib/thuvien/app"
    (root / "opt/thuvien").unlink()
    (root / "opt/thuvien").symlink_to("../var/lib/thuvien/app")
    exe = root / "opt/thuvien/current/bin/thuvien"
    out = subprocess.run([sys.executable, str(exe), "update", "units", "--root",
                          str(root / "opt/thuvien"), "--run-dir", str(run_dir)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for name, state in [("thuvien-web.service", "enabled-runtime"),
                        ("thuvien-devices.service", "enabled-runtime"),
                        ("thuvien-firstboot.service", "enabled-runtime"),
                        ("thuvien-update.path", "enabled-runtime"),
                        ("thuvien-sync.timer", "enabled-runtime"),
                        ("thuvien-backup.timer", "enabled-runtime"),
                        ("thuvien-kiosk.service", "enabled-runtime"),
                        ("thuvien-sync.service", "linked-runtime"),
                        ("thuvien-update.service", "linked-runtime")]:
        said = subprocess.run(["systemctl", f"--root={root}", "is-enabled", name],
                              capture_output=True, text=True, timeout=60)
        assert said.stdout.strip() == state, (name, said.stdout, said.stderr)
        assert _inside(root, f"/run/systemd/system/{name}").read_text() == \
            (ROOT / "systemd" / name).read_text()
    assert (run_dir / "graphical.target.wants/thuvien-kiosk.service").is_symlink()
    assert (run_dir / "timers.target.wants/thuvien-sync.timer").is_symlink()
    # and systemd loads every one through its link, and the image's own unit, cleanly
    # (with the host's own units and the Debian programs the units run, as stubs)
    if not shutil.which("systemd-analyze"):
        unavailable("systemd-analyze is missing (Debian package systemd)")
    names = sorted(p.name for p in run_dir.glob("thuvien-*"))
    verified = verify(systemd_root(root), *names, "thuvien-units.service", timeout=120)
    said = (verified.stdout + verified.stderr).strip()
    assert verified.returncode == 0 and said == "", said


def test_a_root_customised_before_loses_its_copies_of_units(tmp_path, wheels):
    _need_tools()
    etc = tmp_path / "etc/systemd/system"
    (etc / "multi-user.target.wants").mkdir(parents=True)
    (etc / "thuvien-web.service").write_text("[Service]\nExecStart=/bin/true\n")
    (etc / "multi-user.target.wants/thuvien-web.service").symlink_to(
        "/etc/systemd/system/thuvien-web.service")
    (etc / "other.service").write_text("[Service]\nExecStart=/bin/true\n")
    result = _customise(tmp_path, wheels["0.2.0"], steps="units")
    assert result.returncode == 0, result.stderr
    assert not (etc / "thuvien-web.service").exists()
    assert not (etc / "multi-user.target.wants/thuvien-web.service").is_symlink()
    assert (etc / "other.service").exists() and (etc / "thuvien-units.service").exists()


def _fstab(root):
    rows = {}
    for line in (root / "etc/fstab").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            spec, mount, fstype, options, *_ = line.split()
            rows[mount] = (spec, fstype, options.split(","))
    return rows


def test_read_only_root_with_a_data_partition(image_root):
    rows = _fstab(image_root)
    assert "ro" in rows["/"][2] and "rw" not in rows["/"][2]
    spec, fstype, options = rows["/var/lib/thuvien"]
    assert spec == "LABEL=thuvien-data" and fstype == "ext4" and "rw" in options
    for volatile in ["/tmp", "/var/log", "/var/tmp"]:
        assert rows[volatile][1] == "tmpfs"
    assert rows["/var/lib/systemd/timers"][0].startswith("/var/lib/thuvien/")
    # every mount point exists in the image
    for mount in rows:
        if mount not in ("/", "/proc"):
            assert (image_root / mount.lstrip("/")).is_dir(), mount
    cmdline = (image_root / "boot/firmware/cmdline.txt").read_text().split()
    assert "ro" in cmdline and "rw" not in cmdline
    assert not any(arg.startswith("init=") for arg in cmdline)
    assert (image_root / "etc/systemd/journald.conf.d/thuvien-volatile.conf").exists()
    assert "Storage=volatile" in \
        (image_root / "etc/systemd/journald.conf.d/thuvien-volatile.conf").read_text()
    assert "/var/lib/thuvien/" in (image_root / "etc/default/fake-hwclock").read_text()


def test_every_unit_writes_only_to_the_data_partition_or_ram(image_root):
    """With a read-only root, a state folder outside the data partition would fail to start."""
    for unit in [*(ROOT / "systemd").glob("*.service"), BOOTSTRAP]:
        for line in unit.read_text().splitlines():
            if line.startswith(("StateDirectory=", "ReadWritePaths=")):
                for path in line.split("=", 1)[1].split():
                    full = path if path.startswith("/") else "/var/lib/" + path
                    assert full.startswith(("/var/lib/thuvien", "/run/")), (unit.name, path)


def test_app_installed_as_first_version(image_root):
    exe = _inside(image_root, "/opt/thuvien/current/bin/thuvien")
    assert exe.is_file() and os.access(exe, os.X_OK)
    assert exe.read_text().splitlines()[0] == "#!/var/lib/thuvien/app/runtime/bin/python"
    app = image_root / "var/lib/thuvien/app"
    assert os.readlink(app / "current") == "versions/0.2.0"
    site_init = app / "versions/0.2.0/site/appliance/__init__.py"
    assert '__version__ = "0.2.0"' in site_init.read_text()
    # the launcher runs this version's code (on the test's own Python): the source tree
    # says 0.1.0, the image holds 0.2.0
    probe = subprocess.run([sys.executable, str(exe), "--version"], capture_output=True,
                           text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "thuvien 0.2.0"


def test_first_boot_is_ready(image_root):
    boot = image_root / "boot/firmware"
    assert "thuvien.json" in (boot / "README-thuvien.txt").read_text()
    assert (boot / "thuvien.json.example").exists()
    unit = _inside(image_root, "/opt/thuvien/current/site/provisioning/systemd/"
                   "thuvien-firstboot.service").read_text()
    assert "ConditionPathExists=|/boot/firmware/thuvien.json" in unit


def test_unknown_step_and_missing_root_are_refused(tmp_path, wheels):
    _need_tools()
    bad = _customise(tmp_path, wheels["0.1.0"], steps="users,nonsense")
    assert bad.returncode == 2 and "unknown step nonsense" in bad.stderr
    missing = _customise(tmp_path / "nope", wheels["0.1.0"])
    assert missing.returncode == 2 and "--root DIR must exist" in missing.stderr


def test_units_come_from_the_wheel(tmp_path):
    """The image installs the units the wheel carries, not the build machine's checkout."""
    _need_tools()
    empty = tmp_path / "thuvien-9.9.9-py3-none-any.whl"
    zipfile.ZipFile(empty, "w").close()
    (tmp_path / "root").mkdir()
    refused = _customise(tmp_path / "root", empty, steps="units")
    assert refused.returncode != 0 and "carries no unit files" in refused.stderr
