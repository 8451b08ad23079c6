"""A small SIP2 2.00 client written from the 3M specification, for tests.

Deliberately independent of appliance.sip2: it builds request strings by hand,
checks the checksum of every answer the way the specification describes it
(the byte sum of the message plus the checksum value is zero modulo 2**16),
and reads whole lines however many recv() calls they take, up to its own terminator
only, as a machine does: CR by default, or CR LF like Koha's client emulator (`-t
CRLF`). An answer with another terminator leaves it waiting until its time-out, so a
test of it fails rather than passes by accident; a CR LF answer to a CR machine is
caught by the stray LF in front of the next answer.
"""

from __future__ import annotations

import socket
import time

CR = b"\r"
CRLF = b"\r\n"
LF = b"\n"


def now18() -> str:
    """Transaction date: YYYYMMDDZZZZHHMMSS, zone blank for local time."""
    return time.strftime("%Y%m%d") + "    " + time.strftime("%H%M%S")


def add_checksum(text: bytes) -> bytes:
    """Append the four-hex-digit checksum over everything sent so far (ending in 'AZ')."""
    total = 0
    for b in text:
        total = (total + b) & 0xFFFF
    return text + b"%04X" % ((0x10000 - total) & 0xFFFF)


def checksum_ok(line: bytes) -> bool:
    """True when the 'AZxxxx' at the end makes the message sum to zero."""
    if len(line) < 6 or line[-6:-4] != b"AZ":
        return False
    try:
        value = int(line[-4:], 16)
    except ValueError:
        return False
    return (sum(line[:-4]) + value) & 0xFFFF == 0


class Reply:
    """An answer split into its code, the fixed part and the variable fields."""

    def __init__(self, raw: bytes, encoding: str, fixed_len: int):
        self.raw = raw
        text = raw.decode(encoding)
        if "AY" in text[-9:] and text[-6:-4] == "AZ":
            self.seq = int(text[-7])
            text = text[:-9]
        elif text[-6:-4] == "AZ":
            self.seq = None
            text = text[:-6]
        else:
            self.seq = None
        self.code = text[:2]
        self.fixed = text[2:2 + fixed_len]
        self.fields: dict[str, list[str]] = {}
        for chunk in text[2 + fixed_len:].split("|"):
            if chunk:
                self.fields.setdefault(chunk[:2], []).append(chunk[2:])

    def f(self, fid: str) -> str | None:
        values = self.fields.get(fid)
        return values[0] if values else None

    def __repr__(self):
        return f"Reply({self.raw!r})"


# Length of the fixed part of each response, from the specification's layouts.
RESPONSE_FIXED = {
    "94": 1, "98": 1 + 1 + 1 + 1 + 1 + 1 + 3 + 3 + 18 + 4, "24": 14 + 3 + 18,
    "64": 14 + 3 + 18 + 6 * 4, "12": 4 + 18, "10": 4 + 18, "18": 2 + 2 + 2 + 18,
    "30": 4 + 18, "66": 1 + 4 + 4 + 18, "16": 1 + 1 + 18, "36": 1 + 18, "38": 1 + 18,
    "20": 1 + 18, "26": 14 + 3 + 18, "96": 0,
}


class SipClient:
    def __init__(self, host: str, port: int, encoding: str = "utf-8", timeout: float = 5.0,
                 error_detection: bool = True, terminator: bytes = CR,
                 reads: bytes | None = None):
        """`terminator` ends what it sends; it reads up to `reads` (the same by default)."""
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.encoding = encoding
        self.error_detection = error_detection
        self.terminator = terminator
        self.reads = reads or terminator
        self.seq = 0
        self.buf = b""

    def close(self):
        self.sock.close()

    # --- transport -------------------------------------------------------
    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def read_line(self) -> bytes:
        """One answer, up to this machine's terminator (socket.timeout if it never comes)."""
        while self.reads not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(self.reads)
        if line[:1] in (CR, LF):
            raise AssertionError(f"answer starts with a stray line end: {line!r}")
        return line

    def nothing_more(self, wait: float = 0.3) -> bytes:
        """What else arrives within `wait` seconds after an answer (b"" when nothing)."""
        extra, self.buf = self.buf, b""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                extra += chunk
        except (TimeoutError, socket.timeout):
            pass
        finally:
            self.sock.settimeout(self.timeout)
        return extra

    def frame(self, body: str) -> bytes:
        data = body.encode(self.encoding)
        if self.error_detection:
            data += b"AY%dAZ" % self.seq
            data = add_checksum(data)
            self.seq = (self.seq + 1) % 10
        return data + self.terminator

    def call(self, body: str) -> Reply:
        self.send_raw(self.frame(body))
        return self.reply()

    def reply(self) -> Reply:
        line = self.read_line()
        if self.error_detection or line[-6:-4] == b"AZ":
            assert checksum_ok(line), f"bad checksum from server: {line!r}"
        code = line[:2].decode("ascii")
        return Reply(line, self.encoding, RESPONSE_FIXED.get(code, 0))

    # --- messages (field layouts from the specification) -------------------
    def login(self, user: str, password: str, location: str = "") -> Reply:
        return self.call(f"9300CN{user}|CO{password}|CP{location}|")

    def sc_status(self) -> Reply:
        return self.call("99" + "0" + "030" + "2.00")

    def patron_status(self, inst: str, patron: str, pin: str = "", lang: str = "000") -> Reply:
        return self.call(f"23{lang}{now18()}AO{inst}|AA{patron}|AC|AD{pin}|")

    def patron_info(self, inst: str, patron: str, pin: str = "", summary: str = " " * 10,
                    lang: str = "000") -> Reply:
        return self.call(f"63{lang}{now18()}{summary}AO{inst}|AA{patron}|AC|AD{pin}|")

    def checkout(self, inst: str, patron: str, item: str, pin: str = "",
                 renewal: str = "N", no_block: str = "N") -> Reply:
        return self.call(
            f"11{renewal}{no_block}{now18()}{' ' * 18}AO{inst}|AA{patron}|AB{item}|AC|AD{pin}|")

    def checkin(self, inst: str, item: str, location: str = "", no_block: str = "N") -> Reply:
        return self.call(f"09{no_block}{now18()}{now18()}AP{location}|AO{inst}|AB{item}|AC|")

    def item_info(self, inst: str, item: str) -> Reply:
        return self.call(f"17{now18()}AO{inst}|AB{item}|AC|")

    def renew(self, inst: str, patron: str, item: str, pin: str = "") -> Reply:
        return self.call(f"29NN{now18()}{' ' * 18}AO{inst}|AA{patron}|AD{pin}|AB{item}|AC|")

    def renew_all(self, inst: str, patron: str, pin: str = "") -> Reply:
        return self.call(f"65{now18()}AO{inst}|AA{patron}|AD{pin}|AC|")

    def hold(self, inst: str, patron: str, mode: str = "+", item: str = "",
             title: str = "", pin: str = "") -> Reply:
        return self.call(f"15{mode}{now18()}AO{inst}|AA{patron}|AD{pin}|AB{item}|AJ{title}|AC|")

    def end_session(self, inst: str, patron: str) -> Reply:
        return self.call(f"35{now18()}AO{inst}|AA{patron}|AC|")

    def fee_paid(self, inst: str, patron: str, amount: str = "0.00", fee_id: str = "",
                 currency: str = "VND") -> Reply:
        cg = f"CG{fee_id}|" if fee_id else ""
        return self.call(f"37{now18()}0100{currency}" + f"BV{amount}|AO{inst}|AA{patron}|AC|{cg}")

    def item_status_update(self, inst: str, item: str, props: str) -> Reply:
        return self.call(f"19{now18()}AO{inst}|AB{item}|AC|CH{props}|")

    def patron_enable(self, inst: str, patron: str, pin: str = "") -> Reply:
        return self.call(f"25{now18()}AO{inst}|AA{patron}|AC|AD{pin}|")

    def block_patron(self, inst: str, patron: str, why: str, retained: str = "N") -> Reply:
        return self.call(f"01{retained}{now18()}AO{inst}|AL{why}|AA{patron}|AC|")

    def resend(self) -> Reply:
        """97: ask the server to send its last answer again (no sequence number)."""
        self.send_raw(add_checksum(b"97AZ") + self.terminator)
        return self.reply()
