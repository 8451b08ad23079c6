"""Serial / USB CDC-ACM barcode scanners through pyserial: one code per CR, LF or CRLF line.

The port is reopened after it vanishes (a USB scanner unplugged and plugged back in
comes back under the same udev path, e.g. /dev/serial/by-id/...).
"""

import logging

import serial

log = logging.getLogger(__name__)
MAX_LINE = 256


class LineDecoder:
    """Bytes in, finished codes out; reads may split a code (or a CRLF) anywhere."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, chunk: bytes) -> list[str]:
        codes = []
        for byte in chunk:
            if byte in (0x0D, 0x0A):  # CR, LF or CRLF: an empty line between is dropped
                code = self.buf.decode("ascii", "replace").strip()
                self.buf.clear()
                if code:
                    codes.append(code)
            elif 0x20 <= byte < 0x7F and len(self.buf) < MAX_LINE:
                self.buf.append(byte)
        return codes


class SerialScanner:
    """Runs until `stop` is set, calling on_scan(code) per line."""

    def __init__(self, on_scan, port: str, baudrate: int = 9600, retry: float = 1.0):
        self.on_scan = on_scan
        self.port = port
        self.baudrate = baudrate
        self.retry = retry
        self.state = "searching"
        self.connects = 0  # how many times the port was (re)opened: visible in status

    def open(self):
        return serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.2)

    def run(self, stop) -> None:
        while not stop.is_set():
            try:
                port = self.open()
            except (serial.SerialException, OSError) as exc:
                self.state = "searching"
                log.debug("scanner port %s not there: %s", self.port, exc)
                stop.wait(self.retry)
                continue
            self.connects += 1
            try:
                self.read(port, stop)
            except (serial.SerialException, OSError) as exc:
                self.state = "searching"
                log.warning("scanner port %s lost (%s); reopening", self.port, exc)
                stop.wait(self.retry)
            finally:
                port.close()

    def read(self, port, stop) -> None:
        self.state = "running"
        decoder = LineDecoder()
        while not stop.is_set():
            chunk = port.read(max(1, port.in_waiting))
            for code in decoder.feed(chunk):
                self.on_scan(code)
