import errno
import os
import threading
import time

import evdev
import pytest
import serial
from evdev import ecodes as e

from devices import scanner_evdev as se
from devices.scanner_serial import LineDecoder, SerialScanner


def keystrokes(text, t0=1700000000):
    """A recorded scanner burst: key down / up per char, shift around capitals, Enter."""
    shifted = {v[1]: k for k, v in se.KEYMAP.items() if v[0] != v[1]}
    plain = {v[0]: k for k, v in se.KEYMAP.items()}
    out, usec = [], 0

    def key(code, value):
        nonlocal usec
        usec += 900
        out.append((t0, usec, e.EV_KEY, code, value))
        out.append((t0, usec, e.EV_SYN, 0, 0))

    for ch in text:
        if ch in plain:
            key(plain[ch], 1)
            key(plain[ch], 0)
        else:
            key(e.KEY_LEFTSHIFT, 1)
            key(shifted[ch], 1)
            key(shifted[ch], 0)
            key(e.KEY_LEFTSHIFT, 0)
    key(e.KEY_ENTER, 1)
    key(e.KEY_ENTER, 0)
    return out


def decode_all(events):
    d = se.WedgeDecoder()
    return [c for c in (d.feed(ev) for ev in events) if c]


def test_keymap_codes_agree_with_evdev():
    assert se.KEYMAP[e.KEY_A] == ("a", "A") and se.KEYMAP[e.KEY_SLASH] == ("/", "?")
    assert se.ENTER_KEYS == {e.KEY_ENTER, e.KEY_KPENTER}
    assert se.SHIFT_KEYS == {e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT}


@pytest.mark.parametrize("text", ["3500123", "PY-DH01/0042", "A$B+c%d.", "Tv:1!@#(;)'\"<>?"])
def test_recorded_streams_decode(text):
    assert decode_all(keystrokes(text)) == [text]


def test_repeats_ups_and_right_shift_and_kpenter():
    K = e.EV_KEY
    events = [
        (0, 1, K, e.KEY_RIGHTSHIFT, 1), (0, 2, K, e.KEY_RIGHTSHIFT, 2),  # shift held, repeats
        (0, 3, K, e.KEY_X, 1), (0, 4, K, e.KEY_X, 2), (0, 5, K, e.KEY_X, 2),  # repeats ignored
        (0, 6, K, e.KEY_RIGHTSHIFT, 0),
        (0, 7, K, e.KEY_1, 1), (0, 8, K, e.KEY_2, 1), (0, 9, K, e.KEY_1, 0),  # ups interleaved
        (0, 10, K, e.KEY_2, 0), (0, 11, e.EV_MSC, 4, 458782),
        (0, 12, K, e.KEY_KPENTER, 1), (0, 13, K, e.KEY_KPENTER, 0),
        (0, 14, K, e.KEY_ENTER, 1),  # an empty scan is no scan
    ]
    assert decode_all(events) == ["X12"]


def test_input_event_objects_and_two_scans():
    events = [evdev.InputEvent(*t) for t in keystrokes("AB1") + keystrokes("c2")]
    assert decode_all(events) == ["AB1", "c2"]


class FakeDevice:
    """The edge of python-evdev's InputDevice: name, info, fd, grab, read, close."""

    def __init__(self, path, name, vendor=0x05E0, product=0x1200):
        self.path, self.name = path, name
        self.info = evdev.DeviceInfo(3, vendor, product, 0x110)
        self.rfd, self.wfd = os.pipe()
        self.fd = self.rfd
        self.queue, self.grabbed, self.closed, self.unplugged = [], False, False, False

    def grab(self):
        self.grabbed = True

    def ungrab(self):
        self.grabbed = False

    def push(self, events):
        self.queue.extend(evdev.InputEvent(*t) for t in events)
        os.write(self.wfd, b"x")

    def unplug(self):
        self.unplugged = True
        os.write(self.wfd, b"x")

    def read(self):
        os.read(self.rfd, 4096)
        if self.unplugged:
            raise OSError(errno.ENODEV, "No such device")
        batch, self.queue = self.queue, []
        return iter(batch)

    def close(self):
        if not self.closed:
            self.closed = True
            os.close(self.rfd)
            os.close(self.wfd)


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def test_hotplug_unplug_and_replug_regrabs():
    plugged = {}
    keyboard = FakeDevice("/dev/input/event0", "AT Translated Keyboard", 1, 1)
    plugged[keyboard.path] = keyboard
    opened = []

    def opener(path):
        opened.append(path)
        return plugged[path]

    scans = []
    scanner = se.EvdevScanner(scans.append, name="Honeywell", vid=0x0C2E, rescan=0.02,
                              lister=lambda: sorted(plugged), opener=opener)
    stop = threading.Event()
    t = threading.Thread(target=scanner.run, args=(stop,), daemon=True)
    t.start()
    try:
        assert wait_for(lambda: len(opened) >= 2)  # looked, found only the keyboard
        assert scanner.state == "searching" and not keyboard.grabbed
        first = FakeDevice("/dev/input/event3", "Honeywell Scanner", 0x0C2E, 0x0B01)
        plugged[first.path] = first
        assert wait_for(lambda: first.grabbed)
        first.push(keystrokes("3500123"))
        assert wait_for(lambda: scans == ["3500123"])
        del plugged[first.path]
        first.unplug()
        assert wait_for(lambda: first.closed)
        again = FakeDevice("/dev/input/event5", "Honeywell Scanner", 0x0C2E, 0x0B01)
        plugged[again.path] = again
        assert wait_for(lambda: again.grabbed)
        again.push(keystrokes("Bk-77"))
        assert wait_for(lambda: scans == ["3500123", "Bk-77"])
    finally:
        stop.set()
        t.join(5)
        for dev in plugged.values():
            dev.close()
    assert not t.is_alive()


def test_line_decoder_terminators_and_partial_reads():
    d = LineDecoder()
    assert d.feed(b"350") == []
    assert d.feed(b"0123\r") == ["3500123"]
    assert d.feed(b"\nAB-1\n9") == ["AB-1"]  # LF of the CRLF split across reads
    assert d.feed(b"9\r\n\x00\x1bX\r") == ["99", "X"]


def test_serial_scanner_over_loop_url():
    scans = []
    s = SerialScanner(scans.append, "loop://")
    port = s.open()
    port.write(b"12345\r\nABC")
    stop = threading.Event()
    t = threading.Thread(target=s.read, args=(port, stop), daemon=True)
    t.start()
    assert wait_for(lambda: scans == ["12345"])
    port.write(b"\n")
    assert wait_for(lambda: scans == ["12345", "ABC"])
    stop.set()
    t.join(5)
    port.close()


def test_serial_scanner_over_pty_reconnects(tmp_path):
    link = tmp_path / "scanner"  # as udev's /dev/serial/by-id symlink would be
    master, slave = os.openpty()
    os.symlink(os.ttyname(slave), link)
    scans = []
    scanner = SerialScanner(scans.append, str(link), retry=0.02)
    stop = threading.Event()
    t = threading.Thread(target=scanner.run, args=(stop,), daemon=True)
    t.start()
    try:
        assert wait_for(lambda: scanner.state == "running")
        os.write(master, b"3500")
        time.sleep(0.05)
        os.write(master, b"123\r\n")
        assert wait_for(lambda: scans == ["3500123"])
        os.close(slave)
        os.close(master)  # unplugged: the tty reports an error
        link.unlink()
        master, slave = os.openpty()
        os.symlink(os.ttyname(slave), link)
        assert wait_for(lambda: scanner.connects == 2 and scanner.state == "running")
        os.write(master, b"ZZ9\r")
        assert wait_for(lambda: scans == ["3500123", "ZZ9"])
    finally:
        stop.set()
        t.join(5)
        os.close(master)
        os.close(slave)
    assert not t.is_alive()


def test_serial_port_absent_is_retried_not_fatal(tmp_path):
    scanner = SerialScanner(lambda c: None, str(tmp_path / "nothing"), retry=0.01)
    stop = threading.Event()
    t = threading.Thread(target=scanner.run, args=(stop,), daemon=True)
    t.start()
    time.sleep(0.1)
    assert t.is_alive() and scanner.state == "searching"
    stop.set()
    t.join(5)
    with pytest.raises(serial.SerialException):
        serial.serial_for_url(str(tmp_path / "nothing"))
