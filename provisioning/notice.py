"""What the library's web ports say while an update migrates its database.

The web service is stopped for the copy and the migration (provisioning/updates.py): its
ports would refuse every connection, and the desk's, the kiosk's and the patrons'
browsers would say the site cannot be reached. Meanwhile this answers on the same ports,
in Vietnamese first: the library's system is being updated, the page comes back by
itself. Every request gets 503 with Retry-After (the devices daemon and the kiosk retry);
the API gets it as JSON. The standard library's threaded HTTP server does this: a fixed
page, a few requests a minute, and the web service's own servers are the new version's
to start, not this one's.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections.abc import Callable
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger("thuvien.update")

RETRY_S = 10
PAGE = """<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{retry}; url={again}">
<title>Đang cập nhật · Updating</title>
<style>body{{font:1.2rem/1.5 system-ui,sans-serif;margin:2rem auto;max-width:36rem;
padding:0 1rem;color:#1a1a1a}}h1{{font-size:1.5rem}}progress{{width:100%;height:1rem}}
p[lang=en]{{color:#555}}</style>
</head>
<body>
<main role="status">
<h1>Hệ thống thư viện đang được cập nhật</h1>
<p><progress aria-label="Đang cập nhật"></progress></p>
<p>Xin chờ trong giây lát: trang này sẽ tự mở lại khi cập nhật xong. Các lượt mượn,
trả đã ghi vẫn được giữ nguyên.</p>
<p lang="en">The library system is being updated. This page opens again by itself
when it is done; every loan and return already recorded is kept.</p>
</main>
</body>
</html>
"""
API = json.dumps({"error": {"code": "updating", "message": "Hệ thống thư viện đang được "
                            "cập nhật: xin thử lại sau ít phút."}},
                 ensure_ascii=False).encode("utf-8")


class _Answer(BaseHTTPRequestHandler):
    server_version = "thuvien"
    protocol_version = "HTTP/1.1"

    def _again(self):
        """Where the page reloads: the page asked for, or for a form sent (a loan at the
        desk, a kiosk's return) the page it was sent from, never the form's own address
        (a GET there after the update would not be the form)."""
        if self.command in ("GET", "HEAD"):
            return _here(self.path)
        came_from = urlsplit(self.headers.get("Referer") or "")
        return _here(came_from.path + (f"?{came_from.query}" if came_from.query else ""))

    def _say(self):
        # the API, sync, and a page's script that asks for JSON (a stocktake's scans)
        api = self.path.startswith(("/api/", "/sync/")) or \
            "application/json" in (self.headers.get("Accept") or "")
        body = API if api else PAGE.format(retry=RETRY_S,
                                           again=escape(self._again(), quote=True)).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json; charset=utf-8" if api
                         else "text/html; charset=utf-8")
        self.send_header("Retry-After", str(RETRY_S))
        self.send_header("Cache-Control", "no-store")
        # never kept alive: a browser's next request, once the web service is back, must
        # reach it, not this answer's thread on a connection it kept open
        self.send_header("Connection", "close")
        self.close_connection = True
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _say

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass  # the journal has the update's own lines; a line a request is noise


def _here(path: str) -> str:
    """`path` if it is one of this server's own (never another site's: "//host/..." or a
    whole URL in the request line would send the reload elsewhere), else the home page."""
    if path.startswith("/") and not path.startswith(("//", "/\\")):
        return path
    return "/"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client gone mid-answer, or plain HTTP on the HTTPS port: not the journal's
        log.debug("update notice: a request from %s failed", client_address, exc_info=True)


def _server(host: str, port: int, tls: tuple[Path, Path] | None):
    server = _Server((host, port), _Answer)
    if tls is not None:
        from appliance.web.https import server_context  # the web service's own TLS terms

        # the handshake in the request's own thread, not in the one that accepts
        server.socket = server_context(*tls).wrap_socket(server.socket, server_side=True,
                                                         do_handshake_on_connect=False)
    threading.Thread(target=server.serve_forever, name=f"notice:{port}", daemon=True).start()
    return server


def answer(http: tuple[str, int] | None = None, https: tuple[str, int] | None = None,
           tls: tuple[Path, Path] | None = None) -> Callable[[], None]:
    """Answer on `http` (host, port), and on `https` with the certificate and key `tls`
    when the device has them; returns the function that stops answering (safe to call
    twice). A port it cannot take (still held) is left, and logged: the update goes on."""
    servers = []
    wanted = [(http, None)] + ([(https, tls)] if tls is not None else [])
    for address, secure in wanted:
        if address is None:
            continue
        try:
            servers.append(_server(*address, secure))
        except (OSError, ssl.SSLError) as exc:
            log.warning("update notice on %s:%s: %s", *address, exc)

    def stop():
        while servers:
            server = servers.pop()
            server.shutdown()
            server.server_close()
    return stop
