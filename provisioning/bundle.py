"""Signed bundles: config bundles and update manifests, signed by the hub's Ed25519 key.

A bundle is a JSON document::

    {"format": "thuvien-bundle/1", "key_id": "...", "signature": "...",
     "payload": {"kind": "config"|"update", "version": 7, "issued_at": "...",
                 "not_before": "...", "expires_at": "...",
                 "scope": {"library": "PY-DH01", "device": "*"}, "body": {...}}}

The signature covers the format tag and the canonical JSON of the payload, so
re-indenting the file changes nothing while any edit of a value breaks it. A
device trusts a small set of hub keys (several during a key rotation), each
with an optional end of validity; everything else is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.core.errors import N_, Invalid, Refused
from sync.keys import KeyFileError, b64, raw_public, sign_public_from, unb64

FORMAT = "thuvien-bundle/1"
# An update bundle's file name, as the hub offers it and a device keeps it.
UPDATE_FILE = re.compile(r"^thuvien-(?P<version>[0-9][0-9.]*)\.tvu$")
KINDS = ("config", "update")
ANY = "*"


class BundleRefused(Refused):
    """A bundle this device must not use; `code` says why, `message` is a msgid."""


class BundleMalformed(Invalid):
    """Not a bundle at all, or one with missing or mistyped fields."""


def canonical(payload: dict) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False).encode("utf-8")


def key_id(public_key: Ed25519PublicKey) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(raw_public(public_key))
    return digest.finalize()[:8].hex()


@dataclass(frozen=True)
class TrustedKey:
    """A hub key this device accepts, until `not_after` when rotated out."""

    public_key: Ed25519PublicKey
    not_after: datetime | None = None

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def to_dict(self) -> dict:
        return {"key": b64(raw_public(self.public_key)),
                "not_after": iso(self.not_after) if self.not_after else None}

    @classmethod
    def from_dict(cls, data: dict) -> "TrustedKey":
        try:
            public = sign_public_from(data["key"])
            not_after = parse_time(data["not_after"]) if data.get("not_after") else None
        except (KeyError, TypeError, KeyFileError) as exc:
            raise BundleMalformed("bad_key", N_("A hub key in the settings is malformed: %(why)s"),
                                  why=str(exc)) from exc
        return cls(public, not_after)


def trust(*keys, not_after: datetime | None = None) -> dict[str, TrustedKey]:
    """A key ring from public (or private) keys, keyed by key id."""
    ring = {}
    for key in keys:
        if isinstance(key, TrustedKey):
            ring[key.key_id] = key
            continue
        public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
        entry = TrustedKey(public, not_after)
        ring[entry.key_id] = entry
    return ring


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError) as exc:
        raise BundleMalformed("bad_time", N_("The bundle has an unreadable time: %(value)s"),
                              value=str(text)) from exc
    if moment.tzinfo is None:
        raise BundleMalformed("bad_time", N_("The bundle has a time without a zone: %(value)s"),
                              value=text)
    return moment


def version_key(version) -> tuple[int, ...]:
    """Config versions are integers, software versions dotted numbers (1.2.0)."""
    if isinstance(version, int) and not isinstance(version, bool) and version >= 0:
        return (version,)
    if isinstance(version, str):
        parts = version.split(".")
        if all(p.isdigit() for p in parts):
            return tuple(int(p) for p in parts)
    raise BundleMalformed("bad_version", N_("The bundle version %(version)s is not understood"),
                          version=str(version))


def make_payload(kind, version, body, *, library=ANY, device=ANY, now=None,
                 valid_for=timedelta(days=30)) -> dict:
    now = now or utcnow()
    version_key(version)
    if kind not in KINDS:
        raise ValueError(f"unknown bundle kind {kind!r}")
    return {"kind": kind, "version": version, "issued_at": iso(now), "not_before": iso(now),
            "expires_at": iso(now + valid_for), "scope": {"library": library, "device": device},
            "body": body}


def sign(payload: dict, private_key: Ed25519PrivateKey) -> dict:
    signature = private_key.sign(FORMAT.encode() + b"\n" + canonical(payload))
    return {"format": FORMAT, "key_id": key_id(private_key.public_key()),
            "signature": b64(signature), "payload": payload}


def dumps(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True)


def loads(text: str | bytes) -> dict:
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleMalformed("not_json", N_("The bundle is not valid JSON")) from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BundleMalformed("bad_format", N_("This is not a thuvien bundle (format %(fmt)s)"),
                              fmt=str(doc.get("format") if isinstance(doc, dict) else None))
    return doc


def verify(doc: dict, trusted: dict[str, TrustedKey], *, kind: str, installed=None,
           library: str | None = None, device: str | None = None, now=None) -> dict:
    """Check a bundle end to end and return its payload, or raise with the reason.

    `installed` is the version in use: a bundle must be strictly newer, so an
    old bundle replayed by a stale USB stick or a proxy is refused.
    """
    now = now or utcnow()
    payload = _signed_payload(doc, trusted, now)
    _check_fields(payload)
    if payload["kind"] != kind:
        raise BundleRefused("bundle_wrong_kind", N_("This is a %(got)s bundle, not a %(want)s "
                            "bundle"), got=payload["kind"], want=kind)
    if now < parse_time(payload["not_before"]):
        raise BundleRefused("bundle_not_yet_valid", N_("The bundle is not valid before "
                            "%(when)s; check this device's clock"), when=payload["not_before"])
    if now >= parse_time(payload["expires_at"]):
        raise BundleRefused("bundle_expired", N_("The bundle expired at %(when)s"),
                            when=payload["expires_at"])
    _check_scope(payload["scope"], library, device)
    if installed is not None and version_key(payload["version"]) <= version_key(installed):
        raise BundleRefused("bundle_old_version", N_("The bundle has version %(got)s but "
                            "version %(have)s is already in use"),
                            got=str(payload["version"]), have=str(installed))
    return payload


def _signed_payload(doc, trusted, now) -> dict:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BundleMalformed("bad_format", N_("This is not a thuvien bundle (format %(fmt)s)"),
                              fmt=str(doc.get("format") if isinstance(doc, dict) else None))
    payload, kid, signature = doc.get("payload"), doc.get("key_id"), doc.get("signature")
    if not isinstance(payload, dict) or not isinstance(kid, str) or not isinstance(signature,
                                                                                  str):
        raise BundleMalformed("bad_bundle", N_("The bundle lacks its payload or signature"))
    key = trusted.get(kid)
    if key is None:
        raise BundleRefused("bundle_unknown_key", N_("The bundle is signed by key %(key)s, "
                            "which this device does not trust"), key=kid)
    if key.not_after is not None and now >= key.not_after:
        raise BundleRefused("bundle_key_retired", N_("The bundle is signed by key %(key)s, "
                            "retired since %(when)s"), key=kid, when=iso(key.not_after))
    try:
        raw_signature = unb64(signature, 64)
        key.public_key.verify(raw_signature, FORMAT.encode() + b"\n" + canonical(payload))
    except (KeyFileError, InvalidSignature, ValueError) as exc:
        raise BundleRefused("bundle_bad_signature", N_("The bundle's signature is not valid: "
                            "it was altered or not made by the hub")) from exc
    return payload


def _check_fields(payload):
    for field in ("kind", "version", "issued_at", "not_before", "expires_at", "scope", "body"):
        if field not in payload:
            raise BundleMalformed("bad_bundle", N_("The bundle lacks the field %(field)s"),
                                  field=field)
    version_key(payload["version"])
    if not isinstance(payload["scope"], dict) or not isinstance(payload["body"], dict):
        raise BundleMalformed("bad_bundle", N_("The bundle's scope or body is malformed"))


def _check_scope(scope, library, device):
    want_library, want_device = scope.get("library", ANY), scope.get("device", ANY)
    if library is not None and want_library not in (ANY, library):
        raise BundleRefused("bundle_wrong_library", N_("The bundle is for library %(want)s, "
                            "not %(have)s"), want=want_library, have=library)
    if device is not None and want_device not in (ANY, device):
        raise BundleRefused("bundle_wrong_device", N_("The bundle is for device %(want)s, "
                            "not this one (%(have)s)"), want=want_device, have=device)
