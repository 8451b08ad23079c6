"""The daemon's command API on the loopback (default 127.0.0.1:6002), JSON in and out.

    POST /rfid/afi {"uid": "E004...", "afi": 194}  -> 200 {"ok": true}
    GET  /rfid/tags                                -> {"tags": [...]} (what is on the pad)
    POST /print {"title", "lines": [...], "footer"} -> 200 {"ok": true, "bytes": n}
    GET  /status                                   -> {"drivers": {...}, "events": {...}}

Errors are {"error": {"code", "message"}} with a 4xx/5xx status; the codes are stable,
the English messages are for logs (the appliance shows its own translated text).
"""

import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)
UID_RE = re.compile(r"^[0-9A-Fa-f]{16}$")
MAX_BODY = 64 * 1024
MAX_LINES = 200


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _body(handler) -> dict:
    length = int(handler.headers.get("Content-Length") or 0)
    if length > MAX_BODY:
        raise ApiError(413, "too_large", "request body too large")
    try:
        data = json.loads(handler.rfile.read(length) or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "bad_json", "request body is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "request body must be a JSON object")
    return data


def afi_request(data: dict) -> tuple[str, int]:
    uid, afi = data.get("uid"), data.get("afi")
    if not isinstance(uid, str) or not UID_RE.match(uid):
        raise ApiError(400, "bad_uid", "uid must be 16 hex digits")
    if isinstance(afi, bool) or not isinstance(afi, int) or not 0 <= afi <= 255:
        raise ApiError(400, "bad_afi", "afi must be an integer 0..255 (7 shelf, 194 loan)")
    return uid.upper(), afi


def print_request(data: dict) -> tuple[str, list, str]:
    title, lines, footer = data.get("title", ""), data.get("lines", []), data.get("footer", "")
    if not isinstance(title, str) or not isinstance(footer, str):
        raise ApiError(400, "bad_receipt", "title and footer must be text")
    if (not isinstance(lines, list) or len(lines) > MAX_LINES
            or not all(isinstance(x, str) for x in lines)):
        raise ApiError(400, "bad_receipt", f"lines must be a list of at most {MAX_LINES} texts")
    if not (title or lines):
        raise ApiError(400, "bad_receipt", "nothing to print")
    return title, lines, footer


def make_handler(daemon):
    routes = {("POST", "/rfid/afi"): daemon.api_set_afi, ("GET", "/rfid/tags"): daemon.api_tags,
              ("POST", "/print"): daemon.api_print, ("GET", "/status"): daemon.status}

    class Handler(BaseHTTPRequestHandler):
        server_version = "thuvien-devices"

        def _dispatch(self, method):
            try:
                route = routes.get((method, self.path.split("?")[0]))
                if route is None:
                    raise ApiError(404, "not_found", f"no route {method} {self.path}")
                result = route(_body(self)) if method == "POST" else route()
                self._reply(200, result)
            except ApiError as exc:
                self._reply(exc.status, {"error": {"code": exc.code, "message": exc.message}})
            except Exception:  # noqa: BLE001 - the API must answer, never die
                log.exception("command API %s %s", method, self.path)
                self._reply(500, {"error": {"code": "internal", "message": "internal error"}})

        def do_GET(self):  # noqa: N802 - http.server's naming
            self._dispatch("GET")

        def do_POST(self):  # noqa: N802
            self._dispatch("POST")

        def _reply(self, status, obj):
            body = json.dumps(obj, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            log.debug("api: " + fmt, *args)

    return Handler


class ApiServer:
    def __init__(self, daemon, host: str, port: int):
        self.httpd = ThreadingHTTPServer((host, port), make_handler(daemon))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       name="devices-api")

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
