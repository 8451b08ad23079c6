"""Joining a branch to the hub: a one-time token made at the hub, keys made on the branch.

A new device waits for staff approval at the hub (the fleet page's "Approve")
unless the hub's setting ``auto_approve`` is true; its batches are refused with
``pending_approval`` until then. An approved device gets the hub's signed config
bundle in the answer, a pending one with its first accepted sync.

The device also sends a certificate request for its TLS key (made here, never sent)
and gets its certificate and the town CA back (sync/certs.py). The token carries the
CA's fingerprint, so a device enrolling with an HTTPS hub verifies it from the start.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time

import requests

from appliance.core.context import save_settings
from appliance.core.datadir import CODE_RE
from appliance.core.errors import N_, Forbidden, Invalid, Refused
from provisioning import config

from . import agent, certs, keys, pki, protocol
from .models import Device, EnrolToken
from .receive import now_iso

DEVICE_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TOKEN_TTL_HOURS = 72


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A one-time token that does not start with "-": typed after --token on a command
    line, such a token (1 in 64) would be read as an option and refused."""
    while True:
        token = secrets.token_urlsafe(18)
        if not token.startswith("-"):
            return token


def create_token(ctx, library: str, ttl_hours: float = TOKEN_TTL_HOURS) -> str:
    """At the hub: a token for one device of ``library``; only its hash is stored."""
    if ctx.role != "hub":
        raise Refused("not_hub", N_("Only the hub makes enrolment tokens."))
    if not CODE_RE.match(library or ""):
        raise Invalid("bad_library_code",
                      N_("A library code is 2 to 32 capital letters, digits or dashes."))
    if not 0 < ttl_hours <= 24 * 30:
        raise Invalid("bad_ttl", N_("A token lasts from a few minutes to 30 days."))
    keys.load_or_create(ctx.data_dir)
    _, ca = certs.hub_ca(ctx)
    token = new_token()  # url-safe base64: never a dot
    EnrolToken.create(token_hash=_hash(token), library=library, created_at=now_iso(),
                      expires_ms=int((time.time() + ttl_hours * 3600) * 1000))
    return certs.token_with_fingerprint(token, ca)


def accept(ctx, data: dict) -> dict:
    """At the hub: register a device that shows a valid token; answer the hub's keys."""
    if not isinstance(data, dict):
        raise Invalid("bad_request", N_("The request was not understood."))
    device_id, library = str(data.get("device_id") or ""), str(data.get("library") or "")
    if not DEVICE_RE.match(device_id):
        raise Invalid("bad_device_id", N_("The device id is not valid."))
    try:
        sign_key = keys.b64(keys.unb64(str(data.get("sign_key") or "")))
        box_key = keys.b64(keys.unb64(str(data.get("box_key") or "")))
    except keys.KeyFileError:
        raise Invalid("bad_key", N_("The device keys are not valid.")) from None
    if data.get("csr"):
        certs.check_request(str(data["csr"]))  # before the token is spent
    with ctx.db.atomic():
        secret, _ = certs.split_token(str(data.get("token")))
        tok = EnrolToken.get_or_none(EnrolToken.token_hash == _hash(secret))
        if tok is None or tok.used_by or tok.expires_ms < time.time() * 1000:
            raise Forbidden("bad_token", N_("The enrolment token is unknown, used or expired."))
        if tok.library != library:
            raise Forbidden("wrong_library",
                            N_("This token is for library %(library)s."), library=tok.library)
        if Device.get_or_none(Device.id == device_id):
            raise Refused("already_enrolled", N_("Device %(device)s is already enrolled."),
                          device=device_id)
        status = "active" if ctx.settings.get("auto_approve") is True else "pending"
        Device.create(id=device_id, library=library, sign_key=sign_key, box_key=box_key,
                      enrolled_at=now_iso(), status=status)
        tok.used_by = device_id
        tok.save()
    hub = keys.load_or_create(ctx.data_dir)
    answer = {"hub_id": ctx.origin, "library": library, "status": status, **_pub(hub)}
    if data.get("csr"):  # a device that serves TLS: its certificate and the town CA
        answer["tls"] = certs.issue_for_device(ctx, device_id, str(data["csr"]))
    doc = config.bundle_for(ctx, library, device_id) if status == "active" else None
    if doc is not None:  # a pending device gets its config with its first accepted sync
        answer["config"] = doc
    return answer


def approve(ctx, device_id: str) -> None:
    """Staff at the hub let a pending device sync."""
    if not Device.update(status="active").where(
            (Device.id == device_id) & (Device.status == "pending")).execute():
        device = Device.get_or_none(Device.id == device_id)
        if device is None:
            raise Invalid("unknown_device", N_("Device %(device)s is not enrolled."),
                          device=device_id)
        raise Refused("not_pending", N_("Device %(device)s is not waiting for approval."),
                      device=device_id)


def _pub(k: keys.DeviceKeys) -> dict:
    pub = k.public_dict()
    return {"sign_key": pub["sign_key"], "box_key": pub["box_key"]}


def enrol_with(ctx, hub_url: str, token: str, timeout: float = 30) -> dict:
    """On a branch: make keys here, enrol with the hub, keep what it answers."""
    if not hub_url.startswith(("http://", "https://")):
        raise Invalid("bad_url", N_("The hub address must start with http:// or https://."))
    secret, fp = certs.split_token(token)
    ca, verify = None, True  # no fingerprint (an older hub): the system's trusted CAs
    if fp:
        try:
            ca = certs.fetch_ca(hub_url, fp, timeout)
        except certs.CertError as exc:
            raise protocol.SyncError(exc.code, exc.message) from exc
        verify = str(pki.write_cert(ctx.data_dir, pki.CA_CERT, ca))  # pinned from now on
    mine = keys.load_or_create(ctx.data_dir)
    body = {"token": secret, "device_id": ctx.origin, "library": ctx.library, **_pub(mine),
            **certs.enrolment_request(ctx)}
    try:
        resp = requests.post(hub_url.rstrip("/") + protocol.ENROL_PATH, json=body,
                             timeout=timeout, verify=verify)
    except requests.exceptions.SSLError as exc:
        raise protocol.SyncError("untrusted_hub", "the hub's certificate is not trusted "
                                 f"(use the token with its CA fingerprint): {exc}") from exc
    except requests.RequestException as exc:
        raise protocol.SyncError("unreachable", f"cannot reach the hub: {exc}") from exc
    answer = _json(resp)
    if resp.status_code != 200:
        err = answer.get("error") or {}
        raise protocol.SyncError(err.get("code", "refused"), err.get("message", resp.reason))
    try:
        keys.unb64(answer["sign_key"])
        keys.unb64(answer["box_key"])
        hub_id = str(answer["hub_id"])
    except (KeyError, TypeError, keys.KeyFileError) as exc:
        raise protocol.SyncError("bad_answer", f"the hub's answer lacks keys: {exc}") from exc
    conf = {"hub_url": hub_url.rstrip("/"), "hub_id": hub_id,
            "hub_sign_key": answer["sign_key"], "hub_box_key": answer["box_key"],
            "enrolment": "pending" if answer.get("status") == "pending" else "active"}
    if isinstance(answer.get("tls"), dict):
        try:
            conf["tls"] = certs.keep(ctx, answer["tls"], ca)
        except certs.CertError as exc:
            raise protocol.SyncError(exc.code, exc.message) from exc
    ctx.settings["sync"] = {k: v for k, v in conf.items() if k != "tls"}
    save_settings(ctx.data_dir, ctx.settings)
    if isinstance(answer.get("config"), dict):  # checked against the hub key just learnt
        agent.apply_config(ctx, answer["config"])
    return conf


def _json(resp) -> dict:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def revoke(ctx, device_id: str) -> None:
    if not Device.update(status="revoked").where(Device.id == device_id).execute():
        raise Invalid("unknown_device", N_("Device %(device)s is not enrolled."),
                      device=device_id)
