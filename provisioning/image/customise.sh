#!/usr/bin/env bash
# Customise a Debian/Raspberry Pi OS root folder into a thuvien appliance.
#
#   customise.sh --root DIR --wheel FILE [--steps a,b,c] [--python PY]
#
# Steps (default: all file-level steps, in this order):
#   users     accounts from sysusers.d (systemd-sysusers --root)
#   units     the image's one unit, which links the version's units at each start
#   readonly  read-only root: fstab, volatile journal, tmpfs, fake-hwclock, cmdline ro
#   app       the wheel installed as the first version under /var/lib/thuvien/app
#   firstboot token README and example on the boot partition
# and, only inside a real arm64 root (needs chroot + qemu-user-static):
#   runtime   Python venv with the appliance's dependencies, in the chroot
# Every step works on any root folder and can be re-run (idempotent), so CI runs
# the file-level steps against a temporary folder.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
project="$(cd "$here/../.." && pwd)"
root="" wheel="" python="${PYTHON:-python3}"
steps="users,units,readonly,app,firstboot"
APP=/var/lib/thuvien/app
RUNTIME_PY=$APP/runtime/bin/python

while [ $# -gt 0 ]; do
    case "$1" in
        --root) root="$2"; shift 2 ;;
        --wheel) wheel="$2"; shift 2 ;;
        --steps) steps="$2"; shift 2 ;;
        --python) python="$2"; shift 2 ;;
        *) echo "customise.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$root" ] && [ -d "$root" ] || { echo "customise.sh: --root DIR must exist" >&2; exit 2; }
root="$(cd "$root" && pwd)"
say() { echo "[customise] $*"; }

step_users() {
    say "accounts"
    mkdir -p "$root/etc" "$root/usr/lib/sysusers.d"
    install -m 0644 "$here/files/sysusers-thuvien.conf" "$root/usr/lib/sysusers.d/thuvien.conf"
    systemd-sysusers --root="$root" "$root/usr/lib/sysusers.d/thuvien.conf"
}

step_units() {
    say "systemd units (the image's own; the version's are linked at each start)"
    [ -f "$wheel" ] || { echo "customise.sh: --wheel FILE is required for step units" >&2; exit 2; }
    mkdir -p "$root/etc/systemd/system"
    # thuvien-units.service links the units of the version in use at every start
    # (provisioning/units.py): the wheel must carry them (setup.py puts systemd/ in it)
    "$python" - "$wheel" <<'PY'
import sys, zipfile

with zipfile.ZipFile(sys.argv[1]) as zf:
    if not any(n.startswith("provisioning/systemd/thuvien-") for n in zf.namelist()):
        sys.exit(f"customise.sh: {sys.argv[1]} carries no unit files (provisioning/systemd/)")
PY
    # a root customised before kept copies of a version's units here, which would
    # shadow the links (/etc comes before /run in systemd's search path)
    find "$root/etc/systemd/system" -name 'thuvien-*' ! -name thuvien-units.service \
        \( -type f -o -type l \) -delete
    install -m 0644 "$here/files/thuvien-units.service" \
        "$root/etc/systemd/system/thuvien-units.service"
    systemctl --root="$root" enable thuvien-units.service 2>/dev/null
    # the kiosk needs the graphical target; the units that write to the root are masked
    ln -sfn /lib/systemd/system/graphical.target "$root/etc/systemd/system/default.target"
    systemctl --root="$root" mask apt-daily.timer apt-daily-upgrade.timer man-db.timer \
        dphys-swapfile.service 2>/dev/null
    mkdir -p "$root/usr/lib/tmpfiles.d"
    install -m 0644 "$here/files/tmpfiles-thuvien.conf" "$root/usr/lib/tmpfiles.d/thuvien.conf"
}

step_readonly() {
    say "read-only root, data partition"
    install -m 0644 "$here/files/fstab" "$root/etc/fstab"
    mkdir -p "$root/etc/systemd/journald.conf.d" "$root/etc/default"
    install -m 0644 "$here/files/journald-volatile.conf" \
        "$root/etc/systemd/journald.conf.d/thuvien-volatile.conf"
    install -m 0644 "$here/files/fake-hwclock" "$root/etc/default/fake-hwclock"
    # mount points and what must exist on the data partition at first boot
    mkdir -p "$root/boot/firmware" "$root/tmp" "$root/var/tmp" "$root/var/log" \
        "$root/var/lib/systemd/timers" "$root/var/lib/NetworkManager" \
        "$root/var/lib/dhcp" "$root/var/lib/thuvien/system/timers" "$root/opt"
    # resolv.conf is written at run time: keep it in /run
    ln -sfn /run/NetworkManager/resolv.conf "$root/etc/resolv.conf"
    # the kernel mounts the root read-only from the start
    local cmdline="$root/boot/firmware/cmdline.txt"
    if [ -f "$cmdline" ]; then
        sed -i -e 's/\(^\| \)rw\( \|$\)/\1ro\2/' -e 's/ init=[^ ]*//' "$cmdline"
        grep -qw ro "$cmdline" || sed -i 's/$/ ro/' "$cmdline"
        grep -q 'fsck.repair=yes' "$cmdline" || sed -i 's/$/ fsck.repair=yes/' "$cmdline"
    fi
    # an empty machine-id: systemd makes a fresh one per boot on a read-only root
    : > "$root/etc/machine-id"
}

step_app() {
    say "appliance (first version)"
    [ -f "$wheel" ] || { echo "customise.sh: --wheel FILE is required for step app" >&2; exit 2; }
    mkdir -p "$root$APP"
    PYTHONPATH="$wheel" "$python" -m provisioning.updates install-into "$root$APP" "$wheel" \
        "$RUNTIME_PY" >/dev/null
    # /opt/thuvien is how units and people reach the app on the data partition
    ln -sfn "$APP" "$root/opt/thuvien"
    mkdir -p "$root/usr/share/doc/thuvien"
    [ -f "$project/docs/provisioning.md" ] && \
        install -m 0644 "$project/docs/provisioning.md" "$root/usr/share/doc/thuvien/"
    return 0
}

step_firstboot() {
    say "first boot"
    mkdir -p "$root/boot/firmware"
    install -m 0644 "$here/files/README-thuvien.txt" "$root/boot/firmware/README-thuvien.txt"
    install -m 0644 "$here/files/thuvien.json.example" "$root/boot/firmware/thuvien.json.example"
    # thuvien-firstboot.service is the version's, linked and started with the others
}

step_runtime() {
    say "Python runtime with dependencies (chroot)"
    [ -x "$root/usr/bin/python3" ] || { echo "customise.sh: no python3 in $root" >&2; exit 2; }
    cp "$wheel" "$root/tmp/"
    # The hardware libraries come from Debian (python3-pyscard, -evdev, -serial: built for
    # the Pi, nothing to compile under qemu); the venv sees them, pip brings the rest.
    chroot "$root" python3 -m venv --system-site-packages "$APP/runtime"
    # name resolution inside the chroot while pip runs, then the Pi's own again
    local had_resolv=""
    if [ -e "$root/etc/resolv.conf" ] || [ -L "$root/etc/resolv.conf" ]; then
        had_resolv=1  # a file or a link (to systemd-resolved): keep it aside, untouched
        mv "$root/etc/resolv.conf" "$root/etc/resolv.conf.thuvien"
    fi
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # pip trusts what the build host trusts (its network may sit behind its own CA)
    cp /etc/ssl/certs/ca-certificates.crt "$root/tmp/build-host-ca.crt"
    # the dependencies only: each version's own code lives in versions/<v>/site
    chroot "$root" env -u PIP_FIND_LINKS PIP_CERT=/tmp/build-host-ca.crt \
        REQUESTS_CA_BUNDLE=/tmp/build-host-ca.crt SSL_CERT_FILE=/tmp/build-host-ca.crt \
        "$RUNTIME_PY" -m pip install -q "/tmp/$(basename "$wheel")[devices]"
    chroot "$root" "$RUNTIME_PY" -m pip uninstall -q -y thuvien
    rm -f "$root/etc/resolv.conf" "$root/tmp/build-host-ca.crt"
    if [ -n "$had_resolv" ]; then mv "$root/etc/resolv.conf.thuvien" "$root/etc/resolv.conf"; fi
    rm -f "$root/tmp/$(basename "$wheel")"
}

IFS=',' read -r -a wanted <<< "$steps"
for s in "${wanted[@]}"; do
    case "$s" in
        users|units|readonly|app|firstboot|runtime) "step_$s" ;;
        *) echo "customise.sh: unknown step $s" >&2; exit 2 ;;
    esac
done
say "done: $root"
