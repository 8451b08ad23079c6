"""Kiosk fixtures: a logged-in kiosk client, and a stand-in devices daemon that speaks
the daemon's command API on loopback and records what it was asked."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import staff_login
from tests.factories import PASSWORD


def login(client, username="kiosk", password=PASSWORD):
    staff_login(client, username, password, landing="/kiosk/")
    return client


def csrf(client):
    """The session's CSRF token, as a page's forms carry it."""
    with client.session_transaction() as s:
        token = s.get("csrf")
    if token is None:
        client.get("/kiosk/returns")
        with client.session_transaction() as s:
            token = s.get("csrf")
    return token


class Daemon:
    """The devices daemon's HTTP command API (POST /rfid/afi, POST /print, GET /status)."""

    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                daemon.calls.append((self.path, body))
                status = 503 if daemon.fail else 200
                payload = {"error": {"code": "down"}} if daemon.fail else {"ok": True}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def afi(self):
        return [(b["uid"], b["afi"]) for p, b in self.calls if p == "/rfid/afi"]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def daemon(ctx):
    d = Daemon()
    ctx.settings["devices_url"] = d.url
    yield d
    d.close()


@pytest.fixture
def kiosk(client):
    return login(client)
