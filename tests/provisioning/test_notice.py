"""While an update migrates the database, the web service's ports say so (in Vietnamese
first, 503 with Retry-After) instead of refusing every connection."""

import re
import socket
import ssl

import pytest
import requests

from provisioning import notice
from tests.conftest import free_port
from tests.factories import self_signed


@pytest.fixture
def tls(tmp_path):
    """A certificate for 127.0.0.1 and its key, as the device's TLS files are kept."""
    return self_signed(tmp_path)


def refused(port):
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=3)
    return True


def test_the_ports_say_the_library_is_being_updated(tls):
    http, https = free_port(), free_port()
    stop = notice.answer(("127.0.0.1", http), ("127.0.0.1", https), tls=tls)
    try:
        page = requests.get(f"http://127.0.0.1:{http}/desk/loans", timeout=5)
        assert page.status_code == 503 and page.headers["Retry-After"] == "10"
        assert page.headers["Connection"] == "close"  # no kept connection outlives it
        assert page.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "Hệ thống thư viện đang được cập nhật" in page.text
        assert '<html lang="vi">' in page.text and 'http-equiv="refresh"' in page.text
        api = requests.post(f"http://127.0.0.1:{http}/api/v1/loans", json={}, timeout=5)
        assert api.status_code == 503 and api.json()["error"]["code"] == "updating"
        scan = requests.post(f"http://127.0.0.1:{http}/desk/stocktake/1/scan", json={},
                             headers={"Accept": "application/json"}, timeout=5)
        assert "đang được cập nhật" in scan.json()["error"]["message"]  # what the page shows
        with pytest.raises(requests.RequestException):  # plain HTTP on the HTTPS port
            requests.get(f"http://127.0.0.1:{https}/", timeout=5)
        secure = requests.get(f"https://127.0.0.1:{https}/kiosk/", verify=str(tls[0]),
                              timeout=5)  # answered still
        assert secure.status_code == 503 and "đang được cập nhật" in secure.text
    finally:
        stop()
    assert refused(http)
    stop()  # twice: nothing left to stop


def reload_target(html):
    return re.search(r'http-equiv="refresh" content="10; url=([^"]*)"', html).group(1)


def test_the_page_reloads_what_was_asked_never_a_form_nor_another_site():
    """A page reloads itself; a form sent meanwhile (a loan at the desk) reloads the page
    it was sent from, not the form's address; nothing sends the reload to another site."""
    port = free_port()
    stop = notice.answer(("127.0.0.1", port))
    base = f"http://127.0.0.1:{port}"
    try:
        assert reload_target(requests.get(f"{base}/opac/?q=truy%E1%BB%87n", timeout=5)
                             .text) == "/opac/?q=truy%E1%BB%87n"
        sent = requests.post(f"{base}/desk/checkout", data={"card": "P1"}, timeout=5,
                             headers={"Referer": f"{base}/desk/patrons/P1?tab=loans"})
        assert reload_target(sent.text) == "/desk/patrons/P1?tab=loans"
        elsewhere = requests.post(f"{base}/kiosk/return", timeout=5,
                                  headers={"Referer": "http://evil.example//evil.example/x"})
        assert reload_target(elsewhere.text) == "/"
        for target in ("//evil.example/", "http://evil.example/", '/"><script>'):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                raw.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close"
                            "\r\n\r\n".encode())
                answer = b""
                while chunk := raw.recv(4096):
                    answer += chunk
            said = reload_target(answer.decode())  # a path of this server, escaped
            assert said.startswith("/") and not said.startswith(("//", "/\\")), said
            assert "<" not in said and "evil.example/x" not in said, said
    finally:
        stop()


def test_a_port_still_held_is_left_and_the_other_answers(tls):
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    try:
        taken, free = held.getsockname()[1], free_port()
        stop = notice.answer(("127.0.0.1", taken), ("127.0.0.1", free), tls=tls)
        try:
            context = ssl.create_default_context(cafile=str(tls[0]))
            with socket.create_connection(("127.0.0.1", free), timeout=5) as raw, \
                    context.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert s.recv(64).startswith(b"HTTP/1.1 503")
        finally:
            stop()
    finally:
        held.close()


def test_without_the_device_certificate_https_is_not_answered():
    http, https = free_port(), free_port()
    stop = notice.answer(("127.0.0.1", http), ("127.0.0.1", https), tls=None)
    try:
        assert requests.get(f"http://127.0.0.1:{http}/", timeout=5).status_code == 503
        assert refused(https)
    finally:
        stop()
