"""Certificates over the wire: the hub issues them, a device asks for and renews its own.

At enrolment the device sends a certificate request (CSR) for its names; its TLS
key is made on the device and never sent. The hub signs with the town CA the names
a device may hold (see ``allowed_names``) and answers the certificate and the CA.
Before the certificate runs out (``pki.RENEW_DAYS``), a sync asks for a new one
(``renew_if_due``) with a request signed by the device's Ed25519 key.

The enrolment token the hub prints carries the CA's fingerprint after a dot
(``SECRET.FINGERPRINT``): a new device fetches the CA, checks it against the
fingerprint and enrols over TLS verified against it, so nobody on the path can
stand in for an HTTPS hub. A token without one (older hubs) enrols as before.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import time
import warnings

import requests
import urllib3

from appliance.core.errors import N_, Forbidden, Invalid

from . import keys, pki
from .models import Device, ensure_tables, get_state, set_state

log = logging.getLogger("thuvien.sync")

CA_PATH = "/sync/v1/ca"
CERT_PATH = "/sync/v1/cert"
RENEW_TAG = b"thuvien-cert/1\n"
MAX_SKEW_MS = 24 * 3600 * 1000  # a Pi's clock may be hours off; the request names its key
TIMEOUT = (15, 60)


class CertError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


# --- tokens ---------------------------------------------------------------------------------

def token_with_fingerprint(secret: str, ca_cert) -> str:
    return f"{secret}.{pki.fingerprint(ca_cert)}"


def split_token(token: str) -> tuple[str, str | None]:
    secret, _, fp = str(token or "").strip().partition(".")
    return secret, fp or None


# --- at the hub -----------------------------------------------------------------------------

def hub_ca(ctx):
    return pki.load_or_create_ca(ctx.data_dir, ctx.origin)


def allowed_names(ctx, device_id: str, dns: list[str], ips: list[str]):
    """(DNS names, IPs, refused) that ``device_id`` may hold: never a name the hub serves on
    or another device's name (a branch would otherwise pass for the hub to its neighbours)."""
    hub_dns, hub_ips = pki.wanted_names(ctx.settings, ctx.origin)
    own = pki.read_cert(ctx.data_dir, pki.TLS_CERT)
    if own is not None:
        more_dns, more_ips = pki.names_of(own)
        hub_dns, hub_ips = hub_dns + more_dns, hub_ips + more_ips
    others = {d.id for d in Device.select(Device.id).where(Device.id != device_id)}
    others.add(ctx.origin)
    ok_dns, ok_ips, refused = [], [], []
    for name in dns:
        first = name.split(".")[0]
        if name == "localhost" or first == device_id:
            ok_dns.append(name)
        elif name in hub_dns or first in others or not _dns_ok(name):
            refused.append(name)
        else:
            ok_dns.append(name)
    for addr in ips:
        if ipaddress.ip_address(addr).is_loopback or addr not in hub_ips:
            ok_ips.append(addr)
        else:
            refused.append(addr)
    if device_id not in ok_dns:
        ok_dns.insert(0, device_id)
    return ok_dns, ok_ips, refused


def _dns_ok(name: str) -> bool:
    labels = name.split(".")
    return len(name) <= 253 and all(
        0 < len(p) <= 63 and p.replace("-", "").isalnum() and p.isascii() for p in labels)


def check_request(csr: str):
    """(public key, DNS names, IPs) of a valid request, or Invalid."""
    try:
        return pki.read_csr(csr)
    except pki.PkiError as exc:
        raise Invalid("bad_csr", N_("The certificate request is not valid: %(why)s"),
                      why=str(exc)) from exc


def issue_for_device(ctx, device_id: str, csr: str) -> dict:
    """At the hub: sign a device's request; answer the certificate and the CA as PEM."""
    public, dns, ips = check_request(csr)
    dns, ips, refused = allowed_names(ctx, device_id, dns, ips)
    if refused:
        log.warning("sync: certificate for %s leaves out names it may not hold: %s",
                    device_id, ", ".join(refused))
    ca_key, ca_cert = hub_ca(ctx)
    cert = pki.issue(ca_key, ca_cert, public, device_id, dns, ips, pki._days(ctx.settings))
    return {"certificate": pki.pem(cert), "ca": pki.pem(ca_cert), "refused_names": refused}


def _renew_message(device_id: str, at_ms: int, csr: str) -> bytes:
    return RENEW_TAG + f"{device_id}|{at_ms}|".encode() + hashlib.sha256(csr.encode()).digest()


def accept_renewal(ctx, data) -> dict:
    """At the hub: a new certificate for an active device whose signing key signed the ask."""
    if not isinstance(data, dict):
        raise Invalid("bad_request", N_("The request was not understood."))
    device = Device.get_or_none(Device.id == str(data.get("device_id") or ""))
    if device is None or device.status != "active":
        raise Forbidden("not_active", N_("This device may not renew its certificate."))
    csr, at_ms = str(data.get("csr") or ""), data.get("at_ms")
    if not isinstance(at_ms, int) or abs(at_ms - time.time() * 1000) > MAX_SKEW_MS:
        raise Forbidden("stale_request", N_("The renewal request is too old or too new."))
    try:
        keys.sign_public_from(device.sign_key).verify(
            keys.unb64(str(data.get("signature") or ""), 64),
            _renew_message(device.id, at_ms, csr))
    except Exception as exc:  # a malformed or failing signature alike
        raise Forbidden("bad_signature",
                        N_("The renewal request is not signed by this device.")) from exc
    return issue_for_device(ctx, device.id, csr)


# --- on a device ----------------------------------------------------------------------------

def hub_verify(data_dir):
    """What requests verifies the hub with: the town CA kept at enrolment, else the system's."""
    ca = pki.path(data_dir, pki.CA_CERT)
    return str(ca) if ca.exists() else True


class PinnedSession(requests.Session):
    """A session whose ``verify`` holds for every request: plain requests lets
    REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment replace a session's CA file,
    which would quietly undo the pin."""

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        return super().merge_environment_settings(
            url, proxies, stream, self.verify if verify is None else verify, cert)


def hub_session(ctx) -> requests.Session:
    session = PinnedSession()
    session.verify = hub_verify(ctx.data_dir)
    return session


def fetch_ca(hub_url: str, fp: str, timeout: float = 30):
    """The hub's CA, fetched without trusting the link and kept only if its fingerprint is
    the one the token carries (the certificate is public; the fingerprint is the trust)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            resp = requests.get(hub_url.rstrip("/") + CA_PATH, timeout=timeout, verify=False)
    except requests.RequestException as exc:
        raise CertError("unreachable", f"cannot reach the hub: {exc}") from exc
    try:
        resp.raise_for_status()
        ca = pki.load_cert(resp.content)
    except (requests.HTTPError, pki.PkiError) as exc:
        raise CertError("no_ca", f"the hub did not give its CA certificate: {exc}") from exc
    if pki.fingerprint(ca) != fp:
        raise CertError("wrong_ca", "the hub's CA certificate does not match the fingerprint "
                        "in the token: this is not the town's hub, or the token is mistyped")
    return ca


def enrolment_request(ctx) -> dict:
    """The CSR sent at enrolment; the TLS key it names stays in <data>/keys/."""
    return {"csr": _csr(ctx)}


def _csr(ctx) -> str:
    ensure_tables(ctx.db)  # a folder made by first boot opened before sync's tables were known
    key = pki.load_or_create_tls_key(ctx.data_dir)
    dns, ips = pki.wanted_names(ctx.settings, ctx.origin)
    set_state(tls_requested=sorted(dns + ips))
    return pki.make_csr(key, ctx.origin, dns, ips)


def keep(ctx, tls: dict, ca=None) -> dict:
    """Keep the certificate and CA the hub answered, once they check out against our key
    and (when the token pinned one) the CA fetched before."""
    try:
        cert, answered_ca = pki.load_cert(tls["certificate"]), pki.load_cert(tls["ca"])
    except (KeyError, TypeError, pki.PkiError) as exc:
        raise CertError("bad_answer", f"the hub's certificate answer is not usable: {exc}") \
            from exc
    if ca is not None and pki.sha256_hex(answered_ca) != pki.sha256_hex(ca):
        raise CertError("wrong_ca", "the hub answered with another CA than the one pinned")
    try:
        cert.verify_directly_issued_by(answered_ca)
    except Exception as exc:  # ValueError, TypeError or InvalidSignature: not from this CA
        raise CertError("bad_answer", "the certificate is not signed by the town CA") from exc
    if not pki.matches_key(cert, pki.load_or_create_tls_key(ctx.data_dir)):
        raise CertError("bad_answer", "the certificate is not for this device's key")
    pki.write_cert(ctx.data_dir, pki.CA_CERT, answered_ca)
    pki.write_cert(ctx.data_dir, pki.TLS_CERT, cert)
    return {"names": sum(pki.names_of(cert), []), "not_after": cert.not_valid_after_utc
            .isoformat(timespec="seconds"), "refused_names": tls.get("refused_names") or []}


def renewal_due(ctx) -> bool:
    if not pki.path(ctx.data_dir, pki.CA_CERT).exists():
        return False  # enrolled before the hub issued certificates: `thuvien sync renew-cert`
    cert = pki.read_cert(ctx.data_dir, pki.TLS_CERT)
    if cert is None:
        return True
    if pki.days_left(cert) < pki.RENEW_DAYS:
        return True
    dns, ips = pki.wanted_names(ctx.settings, ctx.origin)
    return sorted(dns + ips) != (get_state("tls_requested") or [])  # the names changed


def renew(ctx) -> dict:
    """Ask the hub for a new certificate for this device's key, signed by its Ed25519 key."""
    conf = ctx.settings.get("sync") or {}
    if not conf.get("hub_url"):
        raise CertError("not_enrolled", "this appliance is not enrolled with a hub")
    csr, at_ms = _csr(ctx), int(time.time() * 1000)
    sign = keys.load(ctx.data_dir).sign.sign(_renew_message(ctx.origin, at_ms, csr))
    body = {"device_id": ctx.origin, "csr": csr, "at_ms": at_ms, "signature": keys.b64(sign)}
    try:
        resp = requests.post(conf["hub_url"] + CERT_PATH, json=body, timeout=TIMEOUT,
                             verify=hub_verify(ctx.data_dir))
    except requests.RequestException as exc:
        raise CertError("unreachable", f"the hub did not answer: {exc}") from exc
    try:
        answer = resp.json()
    except ValueError:
        answer = None
    answer = answer if isinstance(answer, dict) else {}
    if resp.status_code != 200:
        err = answer.get("error") if isinstance(answer.get("error"), dict) else {}
        raise CertError(err.get("code", "refused"), err.get("message", f"HTTP {resp.status_code}"))
    return keep(ctx, answer, pki.read_cert(ctx.data_dir, pki.CA_CERT))


def renew_if_due(ctx) -> dict | None:
    """Called after a sync: renew when due; a failure is logged and kept, never raised."""
    try:
        if not renewal_due(ctx):
            return None
        result = renew(ctx)
    except (CertError, pki.PkiError, OSError) as exc:
        log.warning("sync: certificate renewal failed: %s", exc)
        set_state(tls_error=str(exc))
        return None
    log.info("sync: new certificate until %s", result["not_after"])
    set_state(tls_error=None, tls_renewed=result["not_after"])
    return result
