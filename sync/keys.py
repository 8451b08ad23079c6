"""Device identity: an Ed25519 signing key and an X25519 encryption key.

Both are made on the device and never leave it; only the public halves are
sent to the hub at enrolment. Private keys live in ``<data>/keys/`` as raw
32-byte files readable by the owner only (0600, folder 0700).
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SIGN_FILE = "sign.ed25519"
BOX_FILE = "box.x25519"


class KeyFileError(Exception):
    """A key file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class DeviceKeys:
    sign: Ed25519PrivateKey
    box: X25519PrivateKey

    @property
    def sign_public(self) -> bytes:
        return raw_public(self.sign.public_key())

    @property
    def box_public(self) -> bytes:
        return raw_public(self.box.public_key())

    def public_dict(self) -> dict:
        """The public halves as text, for enrolment and the hub's registry."""
        return {"sign_key": b64(self.sign_public), "box_key": b64(self.box_public)}


def raw_public(key) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64(text: str, size: int = 32) -> bytes:
    """Decode a url-safe base64 key of exactly ``size`` bytes."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"not base64: {exc}") from exc
    if len(raw) != size:
        raise KeyFileError(f"a key must be {size} bytes, got {len(raw)}")
    return raw


def sign_public_from(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(unb64(text))


def box_public_from(text: str) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(unb64(text))


def key_dir(data_dir) -> Path:
    return Path(data_dir) / "keys"


def exists(data_dir) -> bool:
    d = key_dir(data_dir)
    return (d / SIGN_FILE).exists() and (d / BOX_FILE).exists()


def load(data_dir) -> DeviceKeys:
    d = key_dir(data_dir)
    sign = Ed25519PrivateKey.from_private_bytes(_read_secret(d / SIGN_FILE))
    box = X25519PrivateKey.from_private_bytes(_read_secret(d / BOX_FILE))
    return DeviceKeys(sign, box)


def load_or_create(data_dir) -> DeviceKeys:
    """This device's keys, made here on first use."""
    if not exists(data_dir):
        d = key_dir(data_dir)
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(d, 0o700)
        _write_secret(d / SIGN_FILE, Ed25519PrivateKey.generate().private_bytes_raw())
        _write_secret(d / BOX_FILE, X25519PrivateKey.generate().private_bytes_raw())
    return load(data_dir)


def _read_secret(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key {path.name}: {exc.strerror}") from exc
    if len(raw) != 32:
        raise KeyFileError(f"key {path.name} is {len(raw)} bytes, expected 32")
    return raw


def _write_secret(path: Path, raw: bytes) -> None:
    """Write atomically with 0600 from the first byte (never world-readable)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, raw)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


# --- rotation: new keys made beside the current ones, promoted once the hub has them -------

NEXT = "next"
ROTATE_TAG = b"thuvien-rotate/1\n"


def next_dir(data_dir) -> Path:
    return key_dir(data_dir) / NEXT


def prepare_rotation(data_dir) -> DeviceKeys:
    """New keys in keys/next/; the next sync announces them, signed by the current key."""
    d = next_dir(data_dir)
    if not d.exists():  # made whole in a temporary folder, then renamed: never half there
        tmp = d.with_name(NEXT + ".tmp")
        if tmp.exists():
            for f in tmp.iterdir():
                f.unlink()
        tmp.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_secret(tmp / SIGN_FILE, Ed25519PrivateKey.generate().private_bytes_raw())
        _write_secret(tmp / BOX_FILE, X25519PrivateKey.generate().private_bytes_raw())
        os.replace(tmp, d)
    return load_next(data_dir)


def finish_promotion(data_dir) -> None:
    """A promotion cut between its two renames leaves one file in keys/next/: finish it."""
    d = next_dir(data_dir)
    if d.exists() and load_next(data_dir) is None:
        promote(data_dir)


def load_next(data_dir) -> DeviceKeys | None:
    d = next_dir(data_dir)
    if not ((d / SIGN_FILE).exists() and (d / BOX_FILE).exists()):
        return None
    return DeviceKeys(Ed25519PrivateKey.from_private_bytes(_read_secret(d / SIGN_FILE)),
                      X25519PrivateKey.from_private_bytes(_read_secret(d / BOX_FILE)))


def rotation_proof(device_id: str, new: DeviceKeys) -> dict:
    """The new public keys, signed by the new signing key (proof it is held)."""
    pub = new.public_dict()
    msg = ROTATE_TAG + f"{device_id}|{pub['sign_key']}|{pub['box_key']}".encode()
    return {**pub, "proof": b64(new.sign.sign(msg))}


def check_rotation(device_id: str, data) -> dict:
    """The new public keys of a rotation request, or KeyFileError."""
    try:
        sign, box, proof = data["sign_key"], data["box_key"], data["proof"]
        unb64(box)
        msg = ROTATE_TAG + f"{device_id}|{sign}|{box}".encode()
        sign_public_from(sign).verify(unb64(proof, 64), msg)
    except KeyFileError:
        raise
    except Exception as exc:  # missing fields, wrong types, a signature that fails
        raise KeyFileError(f"bad rotation request: {type(exc).__name__}") from exc
    return {"sign_key": sign, "box_key": box}


def promote(data_dir) -> None:
    """The hub holds the new keys: they become this device's keys (safe to run again)."""
    d, nd = key_dir(data_dir), next_dir(data_dir)
    for name in (SIGN_FILE, BOX_FILE):
        if (nd / name).exists():
            os.replace(nd / name, d / name)
    if nd.exists():
        nd.rmdir()
