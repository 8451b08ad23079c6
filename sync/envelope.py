"""The sealed batch: compressed, encrypted to the recipient, signed by the sender.

The age pattern with one recipient: a fresh X25519 key per envelope, HKDF-SHA256
over the shared secret gives a one-time ChaCha20-Poly1305 key (so a zero nonce
is safe), the header is the AEAD's associated data, and an Ed25519 signature
covers header and ciphertext so the hub can reject a stranger before decrypting.

Layout (big-endian)::

    magic "TVSY" | version u8 | codec u8 | sender (u8 len, utf-8) |
    recipient (u8 len, utf-8) | first_seq u64 | last_seq u64 | created_ms u64 |
    batch_id 16 | ephemeral X25519 public 32 | ciphertext len u32 |
    ciphertext (raw deflate of the payload, then AEAD) | Ed25519 signature 64

The same bytes travel over HTTP and on a USB stick.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .keys import raw_public

MAGIC = b"TVSY"
VERSION = 1
CODEC_DEFLATE = 1
MAX_ID = 64
MAX_CIPHERTEXT = 32 * 1024 * 1024
MAX_PAYLOAD = 128 * 1024 * 1024  # refuse a decompression bomb
SIG_LEN = 64
_FIXED = struct.Struct(">QQQ16s32s")
_NONCE = bytes(12)
_INFO = b"thuvien-sync/v1 payload key"


class EnvelopeError(Exception):
    """A sealed batch that must be refused; ``code`` is stable, ``reason`` is for logs."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Header:
    version: int
    codec: int
    sender: str
    recipient: str
    first_seq: int
    last_seq: int
    created_ms: int
    batch_id: bytes
    ephemeral: bytes

    @property
    def batch_hex(self) -> str:
        return self.batch_id.hex()


@dataclass(frozen=True)
class Envelope:
    header: Header
    header_bytes: bytes
    ciphertext: bytes
    signature: bytes


def seal(payload: bytes, *, sender: str, recipient: str, first_seq: int, last_seq: int,
         sign_key: Ed25519PrivateKey, recipient_box: X25519PublicKey,
         created_ms: int | None = None, batch_id: bytes | None = None) -> bytes:
    """Compress, encrypt to ``recipient_box`` and sign ``payload``."""
    if not 0 <= first_seq <= last_seq:
        raise ValueError("first_seq must be <= last_seq")
    eph = X25519PrivateKey.generate()
    eph_pub = raw_public(eph.public_key())
    header = Header(VERSION, CODEC_DEFLATE, sender, recipient, first_seq, last_seq,
                    int(time.time() * 1000) if created_ms is None else created_ms,
                    batch_id or os.urandom(16), eph_pub)
    head = encode_header(header)
    key = _derive(eph.exchange(recipient_box), eph_pub, raw_public(recipient_box))
    packed = _deflate(payload)
    ciphertext = ChaCha20Poly1305(key).encrypt(_NONCE, packed, head)
    body = head + struct.pack(">I", len(ciphertext)) + ciphertext
    return body + sign_key.sign(body)


def encode_header(h: Header) -> bytes:
    return (MAGIC + bytes([h.version, h.codec]) + _short(h.sender) + _short(h.recipient)
            + _FIXED.pack(h.first_seq, h.last_seq, h.created_ms, h.batch_id, h.ephemeral))


def parse(data: bytes) -> Envelope:
    """Strictly split an envelope into its parts; no keys needed, nothing trusted yet."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise EnvelopeError("bad_type", "an envelope is bytes")
    data = bytes(data)
    if len(data) < len(MAGIC) + 2:
        raise EnvelopeError("truncated", f"{len(data)} bytes is too short for a header")
    if data[:4] != MAGIC:
        raise EnvelopeError("bad_magic", "not a thuvien sync batch")
    version, codec = data[4], data[5]
    if version != VERSION:
        raise EnvelopeError("bad_version", f"format version {version} is not supported")
    if codec != CODEC_DEFLATE:
        raise EnvelopeError("bad_codec", f"compression codec {codec} is not supported")
    pos = 6
    sender, pos = _read_short(data, pos, "sender")
    recipient, pos = _read_short(data, pos, "recipient")
    if len(data) < pos + _FIXED.size + 4:
        raise EnvelopeError("truncated", "header cut short")
    first, last, created, batch_id, eph = _FIXED.unpack_from(data, pos)
    head_end = pos + _FIXED.size
    (ct_len,) = struct.unpack_from(">I", data, head_end)
    pos = head_end + 4
    if first > last:
        raise EnvelopeError("bad_header", f"first seq {first} is after last seq {last}")
    if ct_len > MAX_CIPHERTEXT:
        raise EnvelopeError("too_large", f"ciphertext of {ct_len} bytes is over the limit")
    want = pos + ct_len + SIG_LEN
    if len(data) < want:
        raise EnvelopeError("truncated", f"{len(data)} of {want} bytes")
    if len(data) > want:
        raise EnvelopeError("trailing_bytes", f"{len(data) - want} bytes after the signature")
    header = Header(version, codec, sender, recipient, first, last, created, batch_id, eph)
    return Envelope(header, data[:head_end], data[pos:pos + ct_len], data[pos + ct_len:])


def verify(env: Envelope, sender_sign: Ed25519PublicKey) -> None:
    """Check the sender's signature over header and ciphertext."""
    signed = env.header_bytes + struct.pack(">I", len(env.ciphertext)) + env.ciphertext
    try:
        sender_sign.verify(env.signature, signed)
    except InvalidSignature:
        raise EnvelopeError("bad_signature", f"signature does not match sender {env.header.sender}") from None


def decrypt(env: Envelope, recipient: str, box_key: X25519PrivateKey) -> bytes:
    """Decrypt and decompress a verified envelope addressed to ``recipient``."""
    if env.header.recipient != recipient:
        raise EnvelopeError("wrong_recipient",
                            f"batch is for {env.header.recipient!r}, this is {recipient!r}")
    eph = X25519PublicKey.from_public_bytes(env.header.ephemeral)
    try:
        key = _derive(box_key.exchange(eph), env.header.ephemeral, raw_public(box_key.public_key()))
        packed = ChaCha20Poly1305(key).decrypt(_NONCE, env.ciphertext, env.header_bytes)
    except (InvalidTag, ValueError):
        raise EnvelopeError("decrypt_failed", "ciphertext does not open with this device's key") from None
    return _inflate(packed)


def open_sealed(data: bytes, *, recipient: str, box_key: X25519PrivateKey,
                sender_key_for) -> tuple[Header, bytes]:
    """Parse, check the signer (``sender_key_for(sender) -> Ed25519PublicKey``), decrypt."""
    env = parse(data)
    verify(env, sender_key_for(env.header.sender))
    return env.header, decrypt(env, recipient, box_key)


def _derive(shared: bytes, eph_pub: bytes, recipient_pub: bytes) -> bytes:
    if shared == bytes(32):
        raise EnvelopeError("bad_key", "low-order ephemeral key")
    return HKDF(hashes.SHA256(), 32, salt=eph_pub + recipient_pub, info=_INFO).derive(shared)


def _deflate(payload: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    return c.compress(payload) + c.flush()


def _inflate(packed: bytes) -> bytes:
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(packed, MAX_PAYLOAD)
    except zlib.error as exc:
        raise EnvelopeError("bad_payload", f"cannot decompress: {exc}") from None
    if d.unconsumed_tail or not d.eof or d.unused_data:
        raise EnvelopeError("bad_payload", "payload is too large or not one deflate stream")
    return out


def _short(text: str) -> bytes:
    raw = text.encode("utf-8")
    if not 0 < len(raw) <= MAX_ID:
        raise ValueError(f"a device id is 1..{MAX_ID} bytes of utf-8")
    return bytes([len(raw)]) + raw


def _read_short(data: bytes, pos: int, what: str) -> tuple[str, int]:
    if pos >= len(data):
        raise EnvelopeError("truncated", f"header cut before {what}")
    n = data[pos]
    if not 0 < n <= MAX_ID:
        raise EnvelopeError("bad_header", f"{what} id length {n} is out of range")
    if pos + 1 + n > len(data):
        raise EnvelopeError("truncated", f"header cut inside {what}")
    try:
        return data[pos + 1:pos + 1 + n].decode("utf-8"), pos + 1 + n
    except UnicodeDecodeError:
        raise EnvelopeError("bad_header", f"{what} id is not utf-8") from None


__all__ = ["EnvelopeError", "Envelope", "Header", "seal", "parse", "verify", "decrypt",
           "open_sealed"]
