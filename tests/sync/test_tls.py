"""TLS for the town, on loopback with real servers and real handshakes: the hub is the
certificate authority, a branch enrols over HTTPS and gets a certificate for a key it made
itself, serves HTTPS and SIP2 over TLS with it, renews it at sync, and its agent refuses
a hub the town's CA did not sign."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from appliance.core import datadir
from appliance.core.context import load_settings, save_settings
from sync import certs, keys, pki
from tests.conftest import free_port
from tests.provisioning.served import Serving
from tests.sip2.client import SipClient

ROOT = Path(__file__).resolve().parents[2]
SIP_PASSWORD = "mật-khẩu-tự-mượn"


def thuvien(*args, input=None, check=True, env=None):
    result = subprocess.run([sys.executable, "-m", "appliance.cli", *map(str, args)],
                            capture_output=True, text=True, input=input, timeout=120, cwd=ROOT,
                            env=dict(os.environ, **(env or {})))
    if check:
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


class Serve(Serving):
    """`thuvien serve` from the checkout, with HTTPS (and SIP2 over TLS) on free ports."""

    def __init__(self, data, sip2=False):
        self.https_port = free_port()
        self.sip2_port = free_port() if sip2 else 0
        self.sip2_tls_port = free_port() if sip2 else 0
        super().__init__([sys.executable, "-m", "appliance.cli"], data, ROOT,
                         sip2_port=self.sip2_port, log_dir=Path(data).parent,
                         env=dict(os.environ, PYTHONUNBUFFERED="1"),
                         extra=["--https-port", self.https_port,
                                "--sip2-tls-port", self.sip2_tls_port])
        self.http = self.url
        self.https = f"https://127.0.0.1:{self.https_port}"


def _hub(folder, library="PY-HUB"):
    out = thuvien("init", "--data", folder, "--library", library, "--name", "Thư viện thị xã",
                  "--role", "hub").stdout
    assert "town CA made" in out
    save_settings(folder, {**load_settings(folder), "auto_approve": True})


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    """A hub served over HTTPS and a branch enrolled with it through that HTTPS address."""
    base = tmp_path_factory.mktemp("town")
    hub_dir, branch_dir = base / "hub", base / "branch"
    _hub(hub_dir)
    hub = Serve(hub_dir)
    thuvien("init", "--data", branch_dir, "--library", "PY-DH01", "--name", "Thư viện Hòa Hiệp")
    thuvien("user", "add", "--data", branch_dir, "tuquay", "--role", "kiosk",
            "--password-stdin", input=SIP_PASSWORD + "\n")
    token = thuvien("hub", "token", "create", "--data", hub_dir, "--library", "PY-DH01",
                    "--hours", "1").stdout.strip()
    enrolled = thuvien("enroll", "--data", branch_dir, "--hub", hub.https, "--token", token,
                       "--tls-name", "thuvien-hoahiep.lan", "--tls-name", "192.168.7.20")
    t = type("Town", (), {})()
    t.hub_dir, t.branch_dir, t.hub, t.enrol_out = hub_dir, branch_dir, hub, enrolled.stdout
    t.device = load_settings(branch_dir)["device_id"]
    t.ca = pki.read_cert(hub_dir, pki.CA_CERT)
    t.branch = Serve(branch_dir, sip2=True)
    yield t
    t.branch.stop()
    hub.stop()


def _client_context(ca: x509.Certificate) -> ssl.SSLContext:
    """Trusts the town CA and nothing else; checks the name like a browser does."""
    context = ssl.create_default_context(cadata=pki.pem(ca))
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    return context


def _https_get(port, ca, name, path="/opac/"):
    """A GET over a real TLS handshake to 127.0.0.1, presenting ``name`` (SNI and Host)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with _client_context(ca).wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n"
                        .encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return int(head.split()[1]), head


def test_hub_init_makes_the_town_ca_kept_0600(town):
    folder = town.hub_dir / "keys"
    for name in (pki.CA_KEY, pki.CA_CERT, pki.TLS_KEY, pki.TLS_CERT):
        assert (folder / name).stat().st_mode & 0o777 == 0o600, name
    assert folder.stat().st_mode & 0o777 == 0o700
    ca = town.ca
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.subject == ca.issuer
    pki.read_cert(town.hub_dir, pki.TLS_CERT).verify_directly_issued_by(ca)


def test_branch_gets_a_certificate_for_a_key_that_never_left_it(town):
    assert load_settings(town.branch_dir)["sync"]["hub_url"] == town.hub.https
    assert "TLS certificate for" in town.enrol_out
    folder = town.branch_dir / "keys"
    key_file = folder / pki.TLS_KEY
    assert key_file.stat().st_mode & 0o777 == 0o600
    cert = pki.read_cert(town.branch_dir, pki.TLS_CERT)
    cert.verify_directly_issued_by(town.ca)  # signed by the hub's CA
    assert pki.read_cert(town.branch_dir, pki.CA_CERT) == town.ca  # and the CA kept
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    assert pki.matches_key(cert, key)
    dns, ips = pki.names_of(cert)
    assert {town.device, f"{town.device}.local", "localhost", "thuvien-hoahiep.lan"} <= set(dns)
    assert {"127.0.0.1", "192.168.7.20"} <= set(ips)
    assert cert.not_valid_after_utc - pki.now() > dt.timedelta(days=300)
    # the private key is nowhere at the hub: not in its database, logs or key folder
    secret = key.private_numbers().private_value.to_bytes(32, "big")
    pem_body = b"".join(key_file.read_bytes().splitlines()[1:-1])
    for path in town.hub_dir.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert secret not in blob and pem_body not in blob.replace(b"\n", b""), path


def test_branch_serves_https_for_its_name(town):
    status, _ = _https_get(town.branch.https_port, town.ca, f"{town.device}.local")
    assert status == 200
    status, _ = _https_get(town.branch.https_port, town.ca, "localhost")
    assert status == 200
    with pytest.raises(ssl.SSLCertVerificationError):  # a name the certificate does not hold
        _https_get(town.branch.https_port, town.ca, "thuvien.example.vn")
    other_ca = _other_ca(town)
    with pytest.raises(ssl.SSLCertVerificationError):  # not the town's CA
        _https_get(town.branch.https_port, other_ca, f"{town.device}.local")


def _other_ca(town):
    folder = town.hub_dir.parent / "elsewhere"
    if not pki.has_ca(folder):
        pki.load_or_create_ca(folder, "py-other-00000000")
    return pki.read_cert(folder, pki.CA_CERT)


def test_cookie_is_secure_over_https_only(town):
    _, head = _https_get(town.branch.https_port, town.ca, f"{town.device}.local",
                         "/opac/?lang=vi")
    cookie = next(v for k, v in (line.split(": ", 1) for line in head.split("\r\n")[1:])
                  if k.lower() == "set-cookie")
    assert "thuvien_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    # loopback HTTP (the kiosk on the Pi, the demo) answers in place, cookie not Secure
    resp = requests.get(town.branch.http + "/opac/?lang=vi", allow_redirects=False, timeout=10)
    assert resp.status_code == 200
    assert "thuvien_session=" in resp.headers["Set-Cookie"]
    assert "Secure" not in resp.headers["Set-Cookie"]


def test_sync_over_https_pins_the_town_ca(town):
    out = thuvien("sync", "now", "--data", town.branch_dir).stdout
    assert json.loads(out)["pushed"] >= 1
    assert certs.hub_verify(town.branch_dir) == str(town.branch_dir / "keys" / pki.CA_CERT)


def test_agent_refuses_a_hub_the_town_ca_did_not_sign(town, tmp_path):
    rogue_dir = tmp_path / "rogue"
    _hub(rogue_dir, "PY-HUB")
    rogue = Serve(rogue_dir)
    settings = load_settings(town.branch_dir)
    try:
        # the rogue's certificate is good for 127.0.0.1, but from another CA
        requests.get(rogue.https + "/opac/", verify=str(rogue_dir / "keys" / pki.CA_CERT),
                     timeout=10).raise_for_status()
        save_settings(town.branch_dir, {**settings, "sync": {**settings["sync"],
                                                             "hub_url": rogue.https}})
        # even with the rogue's CA among the machine's trusted ones, the pin holds
        trusting = {name: str(rogue_dir / "keys" / pki.CA_CERT)
                    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")}
        result = thuvien("sync", "now", "--data", town.branch_dir, check=False, env=trusting)
        assert result.returncode == 1
        assert "CERTIFICATE_VERIFY_FAILED" in result.stderr, result.stderr
        # a new device with the real hub's token will not enrol with the rogue either
        fresh = tmp_path / "fresh"
        thuvien("init", "--data", fresh, "--library", "PY-DH01", "--name", "x")
        token = thuvien("hub", "token", "create", "--data", town.hub_dir, "--library",
                        "PY-DH01").stdout.strip()
        result = thuvien("enroll", "--data", fresh, "--hub", rogue.https, "--token", token,
                         check=False)
        assert result.returncode == 1 and "fingerprint" in result.stderr, result.stderr
        assert not (fresh / "keys" / pki.TLS_CERT).exists()
    finally:
        save_settings(town.branch_dir, settings)
        rogue.stop()


def test_sip2_over_tls_answers_a_login(town):
    client = SipClient("127.0.0.1", town.branch.sip2_tls_port)
    client.sock = _client_context(town.ca).wrap_socket(
        client.sock, server_hostname=f"{town.device}.local")
    try:
        assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
        assert client.login("tuquay", SIP_PASSWORD).fixed == "1"
        assert client.sc_status().code == "98"
    finally:
        client.close()
    plain = SipClient("127.0.0.1", town.branch.sip2_port)  # old machines keep their port
    try:
        assert plain.login("tuquay", SIP_PASSWORD).fixed == "1"
    finally:
        plain.close()


def _sign_renewal(branch_dir, device, csr, at_ms):
    sig = keys.load(branch_dir).sign.sign(certs._renew_message(device, at_ms, csr))
    return {"device_id": device, "csr": csr, "at_ms": at_ms, "signature": keys.b64(sig)}


def test_renewal_needs_the_device_signature_and_never_gives_the_hub_names(town):
    url = town.hub.https + certs.CERT_PATH
    verify = str(town.branch_dir / "keys" / pki.CA_CERT)
    key = pki.load_or_create_tls_key(town.branch_dir)
    now_ms = int(pki.now().timestamp() * 1000)
    hub_id = load_settings(town.hub_dir)["device_id"]
    csr = pki.make_csr(key, town.device, [town.device, hub_id, f"{hub_id}.local"],
                       ["127.0.0.1"])
    body = _sign_renewal(town.branch_dir, town.device, csr, now_ms)
    forged = {**body, "csr": pki.make_csr(key, town.device, ["x.example"], [])}
    resp = requests.post(url, json=forged, verify=verify, timeout=10)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "bad_signature"
    stale = _sign_renewal(town.branch_dir, town.device, csr, now_ms - 3 * 86400 * 1000)
    assert requests.post(url, json=stale, verify=verify, timeout=10).status_code == 403
    resp = requests.post(url, json=body, verify=verify, timeout=10)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    dns, _ = pki.names_of(pki.load_cert(answer["certificate"]))
    assert hub_id not in dns and f"{hub_id}.local" not in dns and town.device in dns
    assert set(answer["refused_names"]) == {hub_id, f"{hub_id}.local"}


def test_sync_renews_a_certificate_about_to_run_out(town):
    ca_key, ca = pki.load_or_create_ca(town.hub_dir, "unused")
    key = pki.load_or_create_tls_key(town.branch_dir)
    old = pki.read_cert(town.branch_dir, pki.TLS_CERT)
    dns, ips = pki.names_of(old)
    short = pki.issue(ca_key, ca, key.public_key(), town.device, dns, ips, days=10)
    pki.write_cert(town.branch_dir, pki.TLS_CERT, short)
    shown = json.loads(thuvien("sync", "status", "--data", town.branch_dir).stdout)["tls"]
    assert 9 < shown["days_left"] <= 10
    assert shown["not_after"] == short.not_valid_after_utc.isoformat(timespec="seconds")
    thuvien("sync", "now", "--data", town.branch_dir)
    new = pki.read_cert(town.branch_dir, pki.TLS_CERT)
    assert new.serial_number != short.serial_number
    assert pki.days_left(new) > 300 and pki.matches_key(new, key)
    new.verify_directly_issued_by(ca)
    shown = json.loads(thuvien("sync", "status", "--data", town.branch_dir).stdout)["tls"]
    assert shown["days_left"] > 300 and shown["renewal_error"] is None
    # not due any more: the next sync leaves it alone
    thuvien("sync", "now", "--data", town.branch_dir)
    assert pki.read_cert(town.branch_dir, pki.TLS_CERT).serial_number == new.serial_number


def test_a_running_server_loads_the_renewed_certificate(tmp_path):
    from appliance.web import https

    folder = tmp_path / "d"
    ca_key, ca = pki.load_or_create_ca(folder, "py-hub-00000000")
    key = pki.load_or_create_tls_key(folder)
    first = pki.issue(ca_key, ca, key.public_key(), "a", ["a.local"], [], days=5)
    pki.write_cert(folder, pki.TLS_CERT, first)
    cert_file, key_file = pki.server_files(folder)
    context = https.server_context(cert_file, key_file)
    reloader = https.CertReloader(cert_file, key_file, [context])
    assert not reloader.check()
    second = pki.issue(ca_key, ca, key.public_key(), "a", ["a.local"], [], days=300)
    pki.write_cert(folder, pki.TLS_CERT, second)
    os.utime(cert_file, ns=(0, cert_file.stat().st_mtime_ns + 1))
    assert reloader.check()


# --- the redirect decision and the cookie, through the WSGI environ --------------------------

@pytest.fixture
def app(tmp_path):
    from appliance.web import create_app

    ctx = datadir.init(tmp_path / "lib", "PY-DH01", "Thư viện")
    yield create_app(ctx, testing=True, THUVIEN_HTTPS_PORT=8443)
    ctx.close()


LAN = {"REMOTE_ADDR": "192.168.1.20"}


def test_http_from_the_lan_goes_to_https(app):
    client = app.test_client()
    resp = client.get("/opac/?q=truyện", base_url="http://thuvien-dh01.local:8080",
                      environ_base=LAN)
    assert resp.status_code == 308
    assert resp.headers["Location"].startswith("https://thuvien-dh01.local:8443/opac/?q=")
    resp = client.post("/login", base_url="http://thuvien-dh01.local:8080", environ_base=LAN,
                       data={"username": "a", "password": "b"})
    assert resp.status_code == 308  # a password is never read over plain HTTP from the LAN
    resp = client.get("/opac/", base_url="http://10.0.0.5", environ_base=LAN)
    assert resp.headers["Location"] == "https://10.0.0.5:8443/opac/"


def test_sealed_sync_stays_reachable_over_http_but_enrolment_does_not(app):
    client = app.test_client()
    resp = client.post("/sync/v1/exchange", data=b"x", environ_base=LAN)
    assert resp.status_code != 308  # sealed and signed: old http:// branches keep syncing
    assert client.get("/sync/v1/ca", environ_base=LAN).status_code != 308
    assert client.post("/sync/v1/enrol", json={}, environ_base=LAN).status_code == 308


@pytest.mark.parametrize("remote", ["127.0.0.1", "127.0.0.2", "::1"])
def test_http_on_loopback_stays(app, remote):
    resp = app.test_client().get("/opac/", environ_base={"REMOTE_ADDR": remote})
    assert resp.status_code == 200


def test_no_redirect_when_the_device_serves_no_https(app):
    app.config["THUVIEN_HTTPS_PORT"] = None
    assert app.test_client().get("/opac/", environ_base=LAN).status_code == 200


def test_session_cookie_secure_under_https(app):
    client = app.test_client()
    resp = client.get("/opac/?lang=vi", base_url="https://thuvien-dh01.local:8443",
                      environ_base=LAN)
    assert resp.status_code == 200
    assert "Secure" in resp.headers["Set-Cookie"]
    resp = app.test_client().get("/opac/?lang=vi", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert "Secure" not in resp.headers["Set-Cookie"]
