#!/usr/bin/env bash
# Build a Raspberry Pi (arm64) SD-card image of the thuvien appliance.
#
#   make image            (or: bash provisioning/image/build.sh)
#
# 1. the project's wheel, built offline from this tree
# 2. a Debian bookworm arm64 root with debootstrap (+ qemu-user-static when the
#    host is not arm64), with the Pi's kernel and firmware, Chromium and cage
# 3. customise.sh: accounts, units, read-only root, the app, first boot, runtime
# 4. partitions: bootfs (FAT, token file goes here), rootfs (ext4, mounted ro),
#    thuvien-data (ext4, the library's data and the installed versions)
#
# Reproducible: packages come from a dated snapshot of the Debian archive,
# timestamps are clamped to SOURCE_DATE_EPOCH, file systems get fixed UUIDs and
# hash seeds, and file lists are sorted, so the same inputs give the same image.
# Needs root and the Debian packages debootstrap qemu-user-static fdisk
# dosfstools mtools e2fsprogs.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
project="$(cd "$here/../.." && pwd)"
out="${OUT:-$project/build/image}"
suite="${SUITE:-bookworm}"
snapshot="${SNAPSHOT:-20250601T000000Z}"
mirror="${MIRROR:-http://snapshot.debian.org/archive/debian/$snapshot}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$project" log -1 --format=%ct 2>/dev/null || echo 1735689600)}"
python="${PYTHON:-$project/.venv/bin/python}"
components=main,non-free-firmware  # the Pi's firmware is in non-free-firmware
boot_mb=256 root_mb=2560 data_mb=1024
packages=systemd-sysv,systemd-timesyncd,linux-image-arm64,raspi-firmware,firmware-brcm80211,\
network-manager,ca-certificates,python3,python3-venv,python3-pip,chromium,cage,pcscd,\
libpcsclite1,libzbar0,fonts-dejavu-core,tesseract-ocr,tesseract-ocr-vie,sqlite3,fake-hwclock,locales,\
dbus,dbus-user-session,libpam-systemd,python3-pyscard,python3-evdev,python3-serial
# debootstrap does not choose between alternatives ("a | b"): the last line names the
# D-Bus buses and logind that NetworkManager, polkit and Chromium's GTK ask for that way.

step() { echo; echo "== $*"; }
need() {
    local missing=()
    for tool in debootstrap sfdisk mkfs.vfat mcopy mkfs.ext4; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if [ "$(uname -m)" != aarch64 ] && [ ! -e /usr/bin/qemu-aarch64-static ]; then
        missing+=(qemu-aarch64-static)
    fi
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "build.sh: missing ${missing[*]}: apt-get install debootstrap qemu-user-static" \
             "fdisk dosfstools mtools e2fsprogs" >&2
        exit 1
    fi
    [ "$(id -u)" -eq 0 ] || { echo "build.sh: run as root (debootstrap, chroot)" >&2; exit 1; }
}

binfmt() {
    # Let the kernel run the arm64 root's programs through qemu (a container may have
    # binfmt_misc unmounted and nothing registered).
    [ "$(uname -m)" = aarch64 ] && return 0
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && return 0
    mountpoint -q /proc/sys/fs/binfmt_misc ||
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register
}

need
binfmt
root="$out/root"
# REUSE_ROOT=1 keeps a root that debootstrap finished before (its second stage removes
# /debootstrap), for working on the later steps without fetching the archive again.
if [ -n "${REUSE_ROOT:-}" ] && [ -d "$root/usr" ] && [ ! -d "$root/debootstrap" ]; then
    reuse=1
    find "$out" -mindepth 1 -maxdepth 1 ! -name root -exec rm -rf {} +
    [ -e "$root/etc/resolv.conf.thuvien" ] || [ -L "$root/etc/resolv.conf.thuvien" ] &&
        mv -f "$root/etc/resolv.conf.thuvien" "$root/etc/resolv.conf"
else
    reuse=""
    rm -rf "$out"
fi
mkdir -p "$out/dist"

step "1/4 wheel"
"$python" -c "from pathlib import Path; from provisioning import updates; \
print(updates.build_wheel(Path('$project'), Path('$out/dist')))" | tee "$out/wheel.txt"
wheel="$(cat "$out/wheel.txt")"

step "2/4 debootstrap $suite arm64 from $mirror"
if [ -n "$reuse" ]; then
    echo "reusing $root"
    install -m 0755 /usr/bin/qemu-aarch64-static "$root/usr/bin/"
elif [ "$(uname -m)" = aarch64 ]; then
    debootstrap --arch=arm64 --variant=minbase --components="$components" \
        --include="$packages" "$suite" "$root" "$mirror"
else
    debootstrap --arch=arm64 --variant=minbase --foreign --components="$components" \
        --include="$packages" "$suite" "$root" "$mirror"
    install -m 0755 /usr/bin/qemu-aarch64-static "$root/usr/bin/"
    chroot "$root" /debootstrap/debootstrap --second-stage
fi
echo "thuvien" > "$root/etc/hostname"
mkdir -p "$root/boot/firmware"
[ -f "$root/boot/firmware/cmdline.txt" ] || \
    echo "console=tty1 root=LABEL=rootfs rootfstype=ext4 fsck.repair=yes rootwait ro" \
        > "$root/boot/firmware/cmdline.txt"

step "3/4 customise"
mount --bind /proc "$root/proc"
trap 'umount "$root/proc" 2>/dev/null || true' EXIT
bash "$here/customise.sh" --root "$root" --wheel "$wheel" --python "$python" \
    --steps users,units,readonly,app,firstboot,runtime
umount "$root/proc"
rm -f "$root/usr/bin/qemu-aarch64-static"
# clamp every timestamp for a reproducible result
find "$root" -newermt "@$SOURCE_DATE_EPOCH" -print0 | \
    xargs -0r touch --no-dereference --date="@$SOURCE_DATE_EPOCH"

step "4/4 partitions and image"
parts="$out/parts"
mkdir -p "$parts/data"
# the data partition gets /var/lib/thuvien; the root keeps an empty mount point
cp -a "$root/var/lib/thuvien/." "$parts/data/"
find "$root/var/lib/thuvien" -mindepth 1 -delete
mkdir -p "$parts/boot"
cp -a "$root/boot/firmware/." "$parts/boot/"
find "$root/boot/firmware" -mindepth 1 -delete

ext4_opts=(-q -F -E "hash_seed=5e1f1e2b-0000-4000-8000-746875766965,root_owner=0:0"
)
truncate -s "${root_mb}M" "$parts/root.ext4"
mkfs.ext4 "${ext4_opts[@]}" -L rootfs -U 7468757a-0000-4000-8000-000000000002 \
    -d "$root" "$parts/root.ext4"
truncate -s "${data_mb}M" "$parts/data.ext4"
mkfs.ext4 "${ext4_opts[@]}" -L thuvien-data -U 7468757a-0000-4000-8000-000000000003 \
    -d "$parts/data" "$parts/data.ext4"
truncate -s "${boot_mb}M" "$parts/boot.vfat"
mkfs.vfat -F 32 -n bootfs -i 74687576 "$parts/boot.vfat" >/dev/null
# mcopy wants the destination last, after the files xargs appends
(cd "$parts/boot" && find . -mindepth 1 -maxdepth 1 -print0 | sort -z | \
    xargs -0r sh -c 'mcopy -s -p -m -i "$0" "$@" ::/' "$parts/boot.vfat")

image="$out/thuvien-pi-arm64.img"
total_mb=$((4 + boot_mb + root_mb + data_mb))
truncate -s "${total_mb}M" "$image"
sfdisk -q "$image" <<PART
label: dos
label-id: 0x74687576
unit: sectors
start=8192, size=$((boot_mb * 2048)), type=c, bootable
start=$((8192 + boot_mb * 2048)), size=$((root_mb * 2048)), type=83
start=$((8192 + (boot_mb + root_mb) * 2048)), size=$((data_mb * 2048)), type=83
PART
dd if="$parts/boot.vfat" of="$image" bs=1M seek=4 conv=notrunc status=none
dd if="$parts/root.ext4" of="$image" bs=1M seek=$((4 + boot_mb)) conv=notrunc status=none
dd if="$parts/data.ext4" of="$image" bs=1M seek=$((4 + boot_mb + root_mb)) conv=notrunc \
    status=none
sha256sum "$image" | tee "$image.sha256"
echo "image: $image (write with: dd if=$image of=/dev/sdX bs=4M conv=fsync)"
