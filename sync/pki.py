"""The town's certificates: the hub is the certificate authority, each device holds its own.

Files in ``<data>/keys/`` (folder 0700, every file 0600):

- ``ca.key`` (hub only) and ``ca.pem``: the town CA; branches keep ``ca.pem`` to pin the hub
  and to hand to staff computers that should trust the Pis.
- ``tls.key`` and ``tls.pem``: this device's TLS key (made here, never sent) and certificate.

ECDSA P-256 keys: quick to make on a Pi and understood by every browser and TLS library
still in use. Nothing here speaks HTTP; sync/certs.py does.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .keys import key_dir

CA_KEY, CA_CERT = "ca.key", "ca.pem"
TLS_KEY, TLS_CERT = "tls.key", "tls.pem"
CA_DAYS = 20 * 365  # the town CA outlives every Pi; replacing it means enrolling again
CERT_DAYS = 365  # a device certificate; renewed at sync
RENEW_DAYS = 60  # renew when fewer days than this are left: a Pi may be offline for weeks
MAX_NAMES = 16


class PkiError(Exception):
    """A certificate or request that cannot be used; the message says why."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def path(data_dir, name: str) -> Path:
    return key_dir(data_dir) / name


def _write(file: Path, data: bytes) -> None:
    """Atomically, 0600 from the first byte."""
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = file.with_name(file.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, file)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_cert(text: str | bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(text.encode() if isinstance(text, str) else text)
    except (ValueError, TypeError) as exc:
        raise PkiError(f"not a PEM certificate: {exc}") from exc


def read_cert(data_dir, name: str) -> x509.Certificate | None:
    file = path(data_dir, name)
    return load_cert(file.read_bytes()) if file.exists() else None


def write_cert(data_dir, name: str, cert: x509.Certificate) -> Path:
    file = path(data_dir, name)
    _write(file, pem(cert).encode("ascii"))
    return file


def _save_key(file: Path, key) -> None:
    _write(file, key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


def _load_key(file: Path):
    try:
        return serialization.load_pem_private_key(file.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise PkiError(f"cannot read {file.name}: {exc}") from exc


def fingerprint(cert: x509.Certificate) -> str:
    """A short, typeable SHA-256 fingerprint (128 bits) of a CA certificate."""
    return base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())[:16]).decode().rstrip("=")


def sha256_hex(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


# --- the town CA (hub) ----------------------------------------------------------------------

def has_ca(data_dir) -> bool:
    return path(data_dir, CA_KEY).exists() and path(data_dir, CA_CERT).exists()


def load_or_create_ca(data_dir, hub_id: str):
    """(key, certificate) of the town CA, made on first use at the hub."""
    if not has_ca(data_dir):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "thuvien"),
                          x509.NameAttribute(NameOID.COMMON_NAME, f"thuvien town CA {hub_id}")])
        start = now() - dt.timedelta(hours=1)  # a Pi whose clock lags a little still accepts it
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(start + dt.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256()))
        _save_key(path(data_dir, CA_KEY), key)  # the key first: a cert without it is remade
        write_cert(data_dir, CA_CERT, cert)
    return _load_key(path(data_dir, CA_KEY)), read_cert(data_dir, CA_CERT)


def issue(ca_key, ca_cert: x509.Certificate, public_key, common_name: str, dns: list[str],
          ips: list[str], days: int = CERT_DAYS) -> x509.Certificate:
    """A server certificate for ``common_name`` and the given names, signed by the CA."""
    start = now() - dt.timedelta(hours=1)
    end = min(start + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    sans = [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(a))
                                             for a in ips]
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))


# --- names --------------------------------------------------------------------------------

def wanted_names(settings: dict, device_id: str) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) this device serves on: the defaults for a Pi plus
    ``settings["tls"]["names"]`` and ``["addresses"]`` (IP addresses or DNS names)."""
    host = socket.gethostname().split(".")[0].lower()
    dns = [device_id, f"{device_id}.local", "localhost"]
    if host and host != "localhost":
        dns += [host, f"{host}.local"]
    ips = ["127.0.0.1", "::1"]
    conf = settings.get("tls") or {}
    for extra in list(conf.get("names") or []) + list(conf.get("addresses") or []):
        extra = str(extra).strip().lower()
        try:
            ips.append(str(ipaddress.ip_address(extra)))
        except ValueError:
            dns.append(extra)
    return _unique(dns), _unique(ips)


def _unique(values):
    return list(dict.fromkeys(v for v in values if v))


def names_of(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return (san.get_values_for_type(x509.DNSName),
            [str(a) for a in san.get_values_for_type(x509.IPAddress)])


# --- this device's key and certificate --------------------------------------------------------

def load_or_create_tls_key(data_dir):
    """This device's TLS key, made here on first use; only its public half is ever sent."""
    file = path(data_dir, TLS_KEY)
    if not file.exists():
        _save_key(file, ec.generate_private_key(ec.SECP256R1()))
    return _load_key(file)


def make_csr(key, device_id: str, dns: list[str], ips: list[str]) -> str:
    sans = [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(a))
                                             for a in ips]
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)]))
           .add_extension(x509.SubjectAlternativeName(sans), critical=False)
           .sign(key, hashes.SHA256()))
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def read_csr(text: str) -> tuple[object, list[str], list[str]]:
    """(public key, DNS names, IP addresses) of a request whose signature holds."""
    try:
        csr = x509.load_pem_x509_csr(str(text).encode("ascii"))
        if not csr.is_signature_valid:
            raise InvalidSignature()
        public = csr.public_key()
    except (ValueError, TypeError, UnicodeError, InvalidSignature) as exc:
        raise PkiError("the certificate request is not valid") from exc
    if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.key_size < 256:
        raise PkiError("the certificate request must carry a P-256 or larger EC key")
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return public, [], []
    dns = [n.lower() for n in san.get_values_for_type(x509.DNSName)]
    ips = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    if len(dns) + len(ips) > MAX_NAMES:
        raise PkiError(f"a certificate carries at most {MAX_NAMES} names")
    return public, dns, ips


def matches_key(cert: x509.Certificate, key) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


def server_files(data_dir) -> tuple[Path, Path] | None:
    """(certificate, key) to serve TLS with, when this device has a usable pair."""
    cert_file, key_file = path(data_dir, TLS_CERT), path(data_dir, TLS_KEY)
    if not (cert_file.exists() and key_file.exists()):
        return None
    try:
        cert = load_cert(cert_file.read_bytes())
        usable = matches_key(cert, _load_key(key_file)) and cert.not_valid_after_utc > now()
    except PkiError:
        return None
    return (cert_file, key_file) if usable else None


def days_left(cert: x509.Certificate) -> float:
    return (cert.not_valid_after_utc - now()).total_seconds() / 86400


def ensure_hub_cert(data_dir, hub_id: str, settings: dict) -> x509.Certificate:
    """At the hub: its own server certificate, (re)issued by its CA when missing, due for
    renewal, or short of a name the settings now list."""
    ca_key, ca_cert = load_or_create_ca(data_dir, hub_id)
    key = load_or_create_tls_key(data_dir)
    dns, ips = wanted_names(settings, hub_id)
    cert = read_cert(data_dir, TLS_CERT)
    if cert is not None and matches_key(cert, key) and days_left(cert) > RENEW_DAYS:
        have_dns, have_ips = names_of(cert)
        if set(dns) <= set(have_dns) and set(ips) <= set(have_ips):
            return cert
    cert = issue(ca_key, ca_cert, key.public_key(), hub_id, dns, ips, _days(settings))
    write_cert(data_dir, TLS_CERT, cert)
    return cert


def _days(settings: dict) -> int:
    days = (settings.get("tls") or {}).get("cert_days", CERT_DAYS)
    return days if isinstance(days, int) and 1 <= days <= 825 else CERT_DAYS
