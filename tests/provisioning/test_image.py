"""The image's customisation steps, run against a temporary root folder (no chroot)."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import unavailable

ROOT = Path(__file__).resolve().parents[2]
CUSTOMISE = ROOT / "provisioning/image/customise.sh"
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


def test_units_enabled_with_symlinks(image_root):
    etc = image_root / "etc/systemd/system"
    for link in ["multi-user.target.wants/thuvien-web.service",
                 "multi-user.target.wants/thuvien-devices.service",
                 "multi-user.target.wants/thuvien-firstboot.service",
                 "multi-user.target.wants/thuvien-update.path",
                 "timers.target.wants/thuvien-sync.timer",
                 "timers.target.wants/thuvien-backup.timer",
                 "graphical.target.wants/thuvien-kiosk.service"]:
        assert (etc / link).is_symlink(), link
        assert os.readlink(etc / link) == "/etc/systemd/system/" + Path(link).name
        assert (etc / Path(link).name).read_text() == \
            (ROOT / "systemd" / Path(link).name).read_text()
    assert os.readlink(etc / "default.target") == "/lib/systemd/system/graphical.target"
    assert os.readlink(etc / "apt-daily.timer") == "/dev/null"
    assert not (etc / "multi-user.target.wants/thuvien-sync.service").exists()


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
    for unit in (ROOT / "systemd").glob("*.service"):
        for line in unit.read_text().splitlines():
            if line.startswith(("StateDirectory=", "ReadWritePaths=")):
                for path in line.split("=", 1)[1].split():
                    full = path if path.startswith("/") else "/var/lib/" + path
                    assert full.startswith("/var/lib/thuvien"), (unit.name, path)


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
    unit = (image_root / "etc/systemd/system/thuvien-firstboot.service").read_text()
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
