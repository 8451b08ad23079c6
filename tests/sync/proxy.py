"""A TCP proxy on loopback that makes a link as bad as a ward library's.

Between the sync agent and the hub it can throttle to a bit rate (each
direction, like a serial link), add one-way delay, cut a connection at a
chosen byte offset with a TCP reset or a clean close (FIN both ways), stall it
at a byte offset (nothing more crosses, both ends stay open: a link that died
without a word), and replay each connection's request bytes to the hub once
more after it ends (a duplicated request).
"""

from __future__ import annotations

import queue
import socket
import struct
import threading
import time

SLICE = 256


class FaultProxy:
    def __init__(self, upstream_port: int, *, bitrate: int | None = None, delay: float = 0.0,
                 cut_at=None, cut_how: str = "rst", stall_at=None, duplicate: bool = False):
        """``cut_at(n) -> int | None``: byte offset (both directions) to cut connection n at,
        with a reset (``cut_how="rst"``) or a close (``"fin"``); ``cut_at`` may also give
        ``(offset, how)``. ``stall_at(n) -> int | None``: byte offset after which
        connection n goes silent until its client hangs up."""
        if cut_how not in ("rst", "fin"):
            raise ValueError(f"cut_how must be 'rst' or 'fin', not {cut_how!r}")
        self.upstream = ("127.0.0.1", upstream_port)
        self.bitrate, self.delay, self.cut_at, self.duplicate = bitrate, delay, cut_at, duplicate
        self.cut_how, self.stall_at = cut_how, stall_at
        self.stats = {"connections": 0, "cuts": 0, "stalls": 0, "replays": 0, "up": 0,
                      "down": 0}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._socks: set[socket.socket] = set()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self._spawn(self._accept_loop)
        return self

    def stop(self):
        self._stop.set()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            _abort(s)
        for t in list(self._threads):
            t.join(60)  # a replay under way finishes, so the hub has acted on it when we return
        self._listener.close()

    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        with self._lock:
            self._threads.append(t)
        t.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                n = self.stats["connections"]
                self.stats["connections"] += 1
            self._spawn(self._serve, client, n)

    def _serve(self, client: socket.socket, n: int):
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _abort(client)
            return
        upstream.settimeout(None)
        with self._lock:
            self._socks.update((client, upstream))
        cut = self.cut_at(n) if self.cut_at else None
        cut, how = cut if isinstance(cut, tuple) else (cut, self.cut_how)
        link = _Link(self, client, upstream, cut, how, self.stall_at(n) if self.stall_at else None)
        t_up = threading.Thread(target=link.pump, args=(client, upstream, "up"), daemon=True)
        t_down = threading.Thread(target=link.pump, args=(upstream, client, "down"), daemon=True)
        t_up.start()
        t_down.start()
        t_up.join()
        t_down.join()
        with self._lock:
            self._socks.difference_update((client, upstream))
        for sock in (client, upstream):
            try:
                sock.close()
            except OSError:
                pass
        # Only requests the hub had begun to answer are sent again: those were whole (a
        # client sends one request at a time and waits). Whether the client hung up by
        # itself or the proxy ended the link on stopping does not matter, so a busy
        # machine's scheduling cannot leave a run with nothing to replay.
        if self.duplicate and not link.was_cut and link.answered:
            self._replay(link.answered)

    def _replay(self, data: bytes):
        """Send the same request bytes to the hub again; the answer is dropped."""
        try:
            with socket.create_connection(self.upstream, timeout=10) as s:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                with self._lock:  # sent: counted, however slowly a busy hub answers
                    self.stats["replays"] += 1
                s.settimeout(60)  # the answer is awaited so that the hub has acted on it
                while s.recv(65536):
                    pass
        except OSError:
            return


class _Link:
    """One proxied connection: two directions sharing a cut and a stall offset."""

    def __init__(self, proxy: FaultProxy, client, upstream, cut: int | None, how: str = "rst",
                 stall: int | None = None):
        self.proxy, self.client, self.upstream, self.cut = proxy, client, upstream, cut
        self.how, self.stall = how, stall
        self.sent = 0
        self.was_cut = self.stalled = False
        self.released = threading.Event()  # a stalled link: its client hung up, or the proxy stops
        self.request = bytearray()
        self.answered = b""  # the request bytes the hub had begun to answer
        self.lock = threading.Lock()

    def pump(self, src: socket.socket, dst: socket.socket, direction: str):
        q: queue.Queue = queue.Queue()
        writer = threading.Thread(target=self._write, args=(q, dst, direction), daemon=True)
        writer.start()
        while True:
            try:
                data = src.recv(4096)
                if data and direction == "down" and self.proxy.duplicate:
                    self.answered = bytes(self.request)
            except OSError:
                data = b""
            # The client hung up on the silent link: end the other side too. Only the
            # client: the server closing after its answer is what a stall holds back. And
            # asked before the close is passed on, since that can bring the answer that
            # stalls (a client's half-close is not giving up).
            hung_up_on_silence = not data and direction == "up" and self.stalled
            q.put((time.monotonic() + self.proxy.delay, data))
            if not data:
                if hung_up_on_silence:
                    self.released.set()
                break
            if direction == "up" and self.proxy.duplicate:
                self.request += data
        writer.join()

    def _write(self, q: queue.Queue, dst: socket.socket, direction: str):
        rate = self.proxy.bitrate
        next_at = time.monotonic()
        while True:
            due, data = q.get()
            _sleep_until(due)
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            for i in range(0, len(data), SLICE):
                piece = data[i:i + SLICE]
                if rate:
                    next_at = max(next_at, time.monotonic()) + len(piece) * 8 / rate
                    _sleep_until(next_at)
                if not self._send(dst, piece, direction):
                    return

    def _send(self, dst: socket.socket, piece: bytes, direction: str) -> bool:
        with self.lock:
            if self.was_cut or self.stalled:
                cut_now = stall_now = False
                piece = b""
            else:
                piece, cut_now = self._limit(piece, self.cut)
                piece, stall_now = self._limit(piece, self.stall)
                self.was_cut, self.stalled = cut_now, stall_now and not cut_now
                self.sent += len(piece)
            ended = self.was_cut or self.stalled
        try:
            if piece:
                dst.sendall(piece)
        except OSError:
            return False
        with self.proxy._lock:
            self.proxy.stats[direction] += len(piece)
        if cut_now:
            self._cut()
        elif stall_now:
            self._go_silent()
        elif ended:
            self._wait_if_stalled()
        return not ended

    def _limit(self, piece: bytes, offset: int | None) -> tuple[bytes, bool]:
        room = None if offset is None else offset - self.sent
        if room is not None and room < len(piece):
            return piece[:max(room, 0)], True
        return piece, False

    def _cut(self):
        with self.proxy._lock:
            self.proxy.stats["cuts"] += 1
        if self.how == "rst":
            _abort(self.client)
            _abort(self.upstream)
            return
        for s in (self.client, self.upstream):  # FIN both ways; what comes after is dropped
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _go_silent(self):
        with self.proxy._lock:
            self.proxy.stats["stalls"] += 1
        self._wait_if_stalled()

    def _wait_if_stalled(self):
        """Hold this direction silent until the client gives up (or the proxy stops),
        then close both ends so nothing is left waiting."""
        if not self.stalled:
            return
        while not self.released.wait(0.1):
            if self.proxy._stop.is_set():
                break
        _abort(self.client)
        _abort(self.upstream)


def _sleep_until(t: float):
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)


def _abort(s: socket.socket):
    """Close with a reset, as a dropped EDGE link looks to both ends."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        s.shutdown(socket.SHUT_RD)  # wakes a thread blocked in recv; sends nothing
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


def exchange(port, data, timeout=10.0):
    """Send, half-close, read to the end; returns (bytes back, how it ended)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except ConnectionResetError:
            return out, "reset"
        except TimeoutError:
            return out, "silence"
        return out, "closed"
