"""A threaded SIP2 TCP server: one thread per self-check connection.

Each connection keeps its own login state, encoding and last answer (for 97
resend requests); the answers to retries are the server's (retry.RetryMemory), since a
machine may resend on a new connection. Lines end with CR (CRLF and bare LF are accepted too), and each
answer ends the way the request did, unless the account sets its own terminator:
a machine reads up to the terminator it uses, and would wait for ever for one it
never gets. A line with a bad checksum or one that cannot be parsed is answered
with 96; a line over the length limit, too many bad lines in a row, or an idle
connection is closed. Every transaction is one core command, committed before the
answer is written, so a dropped connection never leaves half a transaction.
"""

from __future__ import annotations

import logging
import re
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field

from . import codec, messages
from .retry import RetryMemory

log = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT = 300.0  # seconds without a byte before we hang up
HANDSHAKE_TIMEOUT = 15.0  # a TLS client that does not finish its handshake is dropped
MAX_BAD_LINES = 5
MAX_CONNECTIONS = 32
# Connections waiting to be accepted. Beyond it the kernel drops a machine's connection
# attempt and the machine tries again a second later: a room of self-checks switched on
# together must all be let in at once.
LISTEN_BACKLOG = 128
_LINE_END = re.compile(rb"(\r\n|\r|\n)")
CR, CRLF, LF = b"\r", b"\r\n", b"\n"


@dataclass
class Session:
    """What one connection knows: who logged in, how to encode, what was said last."""

    ctx: object
    peer: str = ""
    username: str | None = None
    encoding: str = "utf-8"
    institution: str = ""
    last_reply: bytes | None = None  # without its terminator, for 97
    terminator: bytes | None = None  # the account's own, else each request's
    line_end: bytes = CR  # what this machine was last seen to end lines with
    owes_lf: bool = False  # answered a CR whose LF had not arrived yet with a bare CR
    bad_lines: int = 0
    closing: bool = False  # answer, then hang up (say, after repeated failed logins)
    patron: str | None = None
    extra: dict = field(default_factory=dict)


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self):
        srv = self.server
        if not srv.slots.acquire(blocking=False):
            log.warning("sip2: too many connections, refusing %s", self.client_address)
            return
        try:
            if isinstance(self.request, ssl.SSLSocket) and not self._handshake():
                return
            self.request.settimeout(srv.idle_timeout)
            session = Session(ctx=srv.ctx, peer=f"{self.client_address[0]}:{self.client_address[1]}",
                              institution=getattr(srv.ctx, "library", "") or "")
            self._serve(session)
        finally:
            srv.slots.release()
            _close_thread_db(srv.ctx)

    def _handshake(self) -> bool:
        """In the connection's own thread, so a slow client never holds up the others."""
        self.request.settimeout(HANDSHAKE_TIMEOUT)
        try:
            self.request.do_handshake()
        except (OSError, ssl.SSLError) as exc:
            log.info("sip2: TLS handshake with %s failed: %s", self.client_address, exc)
            return False
        return True

    def _serve(self, session: Session):
        for got in _lines(self.request):
            if got is None:
                log.info("sip2: %s sent an over-long line, closing", session.peer)
                return
            line, end, known = got
            if not line.strip():
                if not self._late_lf(session, end):
                    return
                continue
            if known:
                session.line_end = end
            reply = self.server.process(session, line)
            if reply is None:
                return
            term = _answer_end(session, end, known)
            session.owes_lf = term == CR and not known and session.terminator is None
            try:
                self.request.sendall(reply + term)
            except OSError:
                return
            if session.closing:
                log.info("sip2: %s: closing after the answer", session.peer)
                return
            if session.bad_lines >= MAX_BAD_LINES:
                log.info("sip2: %s sent %d bad lines in a row, closing", session.peer,
                         session.bad_lines)
                return

    def _late_lf(self, session: Session, end: bytes) -> bool:
        """The LF of a CR LF that came after we had answered the CR: finish that answer's
        terminator, and take CR LF from now on. False when the connection is gone."""
        if end != LF or not session.owes_lf:
            return True
        session.owes_lf, session.line_end = False, CRLF
        try:
            self.request.sendall(LF)
        except OSError:
            return False
        return True


def _answer_end(session: Session, end: bytes, known: bool) -> bytes:
    """The account's terminator, else the request's; a CR that ended what had arrived
    so far may yet be followed by LF, so it is taken as this machine's usual ending."""
    if session.terminator is not None:
        return session.terminator
    return end if known else session.line_end


def _lines(sock):
    """Yield (line, terminator, known) for each complete line; None for a line over the
    limit; stop at EOF or time-out. `known` is False for a CR that ends the data received
    so far: an LF may still be on its way."""
    buf = b""
    while True:
        try:
            chunk = sock.recv(4096)
        except (TimeoutError, socket.timeout, OSError):
            return
        if not chunk:
            return
        buf += chunk
        parts = _LINE_END.split(buf)
        buf = parts.pop()
        for i in range(0, len(parts), 2):
            line, end = parts[i], parts[i + 1]
            if len(line) > codec.MAX_LINE:
                yield None
                return
            yield line, end, not (end == CR and i + 2 == len(parts) and not buf)
        if len(buf) > codec.MAX_LINE:
            yield None
            return


def _close_thread_db(ctx):
    db = getattr(ctx, "db", None)
    try:
        if db is not None and not db.is_closed():
            db.close()
    except Exception:  # noqa: BLE001 - closing must never raise out of a handler thread
        log.exception("sip2: closing the database connection")


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, addr, ctx, idle_timeout, max_connections):
        self.ctx = ctx
        self.idle_timeout = idle_timeout
        self.slots = threading.BoundedSemaphore(max_connections)
        self.retries = RetryMemory()  # every connection's: a retry may come on a new one
        super().__init__(addr, _Handler)

    def process(self, session: Session, line: bytes) -> bytes | None:
        """One request line in, one answer out without its terminator (None closes the
        connection)."""
        try:
            msg = codec.parse_request(line, session.encoding)
        except codec.SipError as exc:
            session.bad_lines += 1
            log.info("sip2: %s: %s", session.peer, exc)
            return codec.resend_request(terminator=b"")
        session.bad_lines = 0
        if msg.code == "97":
            return session.last_reply or codec.resend_request(terminator=b"")
        replayed = self.retries.replay(self.ctx, _machine(session), msg, line)
        if replayed is not None:
            log.info("sip2: %s: a retry of %s, answered as before", session.peer, msg.code)
            return replayed
        try:
            answer = messages.dispatch(session, msg)
        except Exception:  # noqa: BLE001 - a software fault must not kill the connection
            log.exception("sip2: %s: handling %s failed", session.peer, msg.code)
            answer = messages.refusal(session, msg, messages.SOFTWARE_FAULT)
        if answer is None:
            return None
        reply = codec.encode(answer, session.encoding,
                             seq=msg.seq if msg.checksummed or msg.seq is not None else None,
                             with_checksum=msg.checksummed or msg.seq is not None,
                             terminator=b"")
        session.last_reply = reply
        self.retries.remember(_machine(session), msg, line, reply)
        return reply


def _machine(session: Session) -> str:
    """Who sent a request, for the retry memory: the machine's login, which stays the
    same over its connections, else its address without the port (a new connection
    has a new one)."""
    if session.username:
        return "login:" + session.username
    return "host:" + session.peer.rsplit(":", 1)[0]


class _TLSServer(_TCPServer):
    """SIP2 over TLS: the same protocol inside TLS, with this device's certificate."""

    def __init__(self, addr, ctx, idle_timeout, max_connections, ssl_context):
        self.ssl_context = ssl_context
        super().__init__(addr, ctx, idle_timeout, max_connections)

    def get_request(self):
        sock, addr = super().get_request()
        return self.ssl_context.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False), addr


class ServerHandle:
    """A running SIP2 server: `.port`, `.shutdown()`."""

    def __init__(self, server: _TCPServer, thread: threading.Thread):
        self._server = server
        self._thread = thread
        self.host, self.port = server.server_address[:2]

    def shutdown(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_in_thread(ctx, host: str = "127.0.0.1", port: int = 6001,
                    idle_timeout: float | None = None,
                    max_connections: int = MAX_CONNECTIONS,
                    ssl_context: ssl.SSLContext | None = None) -> ServerHandle:
    """Start the SIP2 server in a background thread; port 0 picks a free port.
    With ``ssl_context`` it speaks SIP2 over TLS (the plain port stays for old machines)."""
    settings = getattr(ctx, "settings", {}) or {}
    timeout = idle_timeout or float(settings.get("sip2_idle_timeout", DEFAULT_IDLE_TIMEOUT))
    if ssl_context is None:
        server = _TCPServer((host, port), ctx, timeout, max_connections)
    else:
        server = _TLSServer((host, port), ctx, timeout, max_connections, ssl_context)
    thread = threading.Thread(target=server.serve_forever, name=f"sip2:{port}",
                              kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    log.info("sip2: listening on %s:%s%s", *server.server_address[:2],
             " (TLS)" if ssl_context else "")
    return ServerHandle(server, thread)
