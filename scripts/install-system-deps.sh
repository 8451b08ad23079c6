#!/usr/bin/env bash
# Debian packages the appliance, its demo and its tests need, plus any named on the
# command line (`make image` adds the image tools). Idempotent.
set -euo pipefail
if [ "${1:-}" = "--only" ]; then  # just the packages named (the demo needs python3-venv)
    shift
    need=("$@")
else
    need=(chromium postgresql pcscd vsmartcard-vpcd libpcsclite-dev swig libzbar0
          sqlite3 fonts-dejavu-core tesseract-ocr tesseract-ocr-vie systemd debootstrap qemu-user-static "$@")
fi
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
