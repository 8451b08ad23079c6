"""HTTPS for people on the library's network, with the certificate the hub issued.

waitress has no TLS of its own (its documentation puts TLS in a proxy in front), and a
listening socket wrapped by ``ssl`` cannot be handed to it: waitress reads non-blocking
and does not expect the ``SSLWantRead`` errors such a socket raises. So HTTPS is served
by cheroot, the CherryPy project's WSGI server: pure Python, threaded like waitress,
TLS built in (the standard ``ssl`` module underneath), maintained for many years. The
same Flask app runs under both; waitress keeps plain HTTP for loopback (the kiosk and
the demo) and redirects everyone else here.
"""

from __future__ import annotations

import logging
import ssl
import threading
from pathlib import Path

log = logging.getLogger("thuvien.web")

RELOAD_EVERY = 3600.0  # seconds between looks for a renewed certificate


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """TLS 1.2 and later, the ssl module's default ciphers."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context


class HttpsServer:
    """cheroot serving ``app`` over TLS in a thread: ``.port``, ``.stop()``."""

    def __init__(self, app, host: str, port: int, cert: Path, key: Path, threads: int = 8):
        from cheroot import wsgi
        from cheroot.ssl.builtin import BuiltinSSLAdapter

        self._server = wsgi.Server((host, port), app, numthreads=threads,
                                   server_name="thuvien")
        adapter = BuiltinSSLAdapter(str(cert), str(key))
        adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context = adapter.context
        self._server.ssl_adapter = adapter
        self._server.prepare()  # binds now: a port in use fails here, before READY
        self.host, self.port = self._server.bind_addr[:2]
        self._thread = threading.Thread(target=self._server.serve, name=f"https:{self.port}",
                                        daemon=True)
        self._thread.start()

    def stop(self):
        self._server.stop()
        self._thread.join(timeout=5)


class CertReloader:
    """Loads a renewed certificate into running TLS contexts: a sync renews the files, and
    new handshakes use them without restarting the service."""

    def __init__(self, cert: Path, key: Path, contexts: list[ssl.SSLContext],
                 every: float = RELOAD_EVERY, renew=None):
        self.cert, self.key, self.contexts, self.every = cert, key, contexts, every
        self.renew = renew  # the hub re-issues its own certificate from its CA
        self._seen = self._stamp()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tls-reload", daemon=True)

    def _stamp(self):
        try:
            return (self.cert.stat().st_mtime_ns, self.key.stat().st_mtime_ns)
        except OSError:
            return None

    def check(self) -> bool:
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return False
        try:
            for context in self.contexts:
                context.load_cert_chain(str(self.cert), str(self.key))
        except (OSError, ssl.SSLError) as exc:  # half written: the next look tries again
            log.warning("tls: the renewed certificate could not be loaded yet: %s", exc)
            return False
        self._seen = stamp
        log.info("tls: renewed certificate loaded")
        return True

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.every):
            if self.renew is not None:
                try:
                    self.renew()
                except Exception:  # noqa: BLE001 - serving goes on with the current one
                    log.exception("tls: renewing this hub's certificate failed")
            self.check()

    def stop(self):
        self._stop.set()
