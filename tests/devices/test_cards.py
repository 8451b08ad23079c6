import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings

import pytest

from devices import cards
from devices.cards_vpcd import ATR, VirtualCard, answer
from tests.conftest import unavailable

UID = bytes.fromhex("04A1B2C3D4E5F6")


def test_apdu_answers():
    assert answer(UID, bytes.fromhex("FFCA000000")) == UID + b"\x90\x00"
    assert answer(UID, bytes.fromhex("FFCA000007")) == UID + b"\x90\x00"
    assert answer(UID, bytes.fromhex("FFCA000004")) == b"\x6c\x07"
    assert answer(UID, bytes.fromhex("FFCA010000")) == b"\x6a\x81"
    assert answer(UID, bytes.fromhex("00A4040000")) == b"\x6e\x00"
    assert answer(UID, b"\xff") == b"\x6a\x81"


def test_atr_check_byte():
    tck = 0
    for b in ATR[1:]:
        tck ^= b
    assert tck == 0


def test_random_uid_is_not_an_identity():
    assert cards.is_random_uid(bytes.fromhex("08123456"))
    assert not cards.is_random_uid(UID)


def _port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def _free_port_pair():
    """Two consecutive free TCP ports: vpcd listens on port for reader 00 and port+1 for 01."""
    for _ in range(50):
        port = random.randrange(20000, 30000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("0.0.0.0", port))
                b.bind(("0.0.0.0", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no two consecutive free TCP ports")


class PrivatePcscd:
    """A pcscd of this test run's own: its own socket, reader.conf and vpcd ports.

    Sharing the machine's pcscd made the tests fail at random: a pcscd left from an
    earlier run (or another run's, stopped under us) may lack the vpcd reader, a stale
    /run/pcscd/pcscd.comm makes a new pcscd refuse to start, and another pcscd may hold
    vpcd's fixed port 35963. Handing pcscd a listening socket the way systemd socket
    activation does (LISTEN_FDS) lets it run beside any other pcscd; the client library
    finds it through PCSCLITE_CSOCK_NAME.
    """

    def __init__(self, binary, workdir):
        self.binary, self.dir = binary, workdir
        self.socket_path = str(workdir / "pcscd.comm")
        self.log_path = workdir / "pcscd.log"
        self.proc = None
        self.port = None

    def start(self):
        self.port = _free_port_pair()
        conf = self.dir / "reader.conf"
        conf.write_text('FRIENDLYNAME "Virtual PCD"\n'
                        f"DEVICENAME /dev/null:{self.port}\n"
                        "LIBPATH /usr/lib/pcsc/drivers/serial/libifdvpcd.so\n"
                        f"CHANNELID {self.port}\n")
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(self.socket_path)
        listener.listen(32)
        fd = listener.fileno()

        def pass_listener():  # in the child: the socket becomes fd 3, as sd_listen_fds wants
            if fd == 3:
                os.set_inheritable(3, True)
            else:
                os.dup2(fd, 3)

        with open(self.log_path, "ab") as log:
            # LISTEN_PID must be pcscd's own pid: the shell's, which exec keeps
            self.proc = subprocess.Popen(
                ["sh", "-c", 'export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" -f -i -c "$1"',
                 self.binary, str(conf)],
                preexec_fn=pass_listener, close_fds=False, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT)
        listener.close()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def wait_for_readers(self, timeout=15.0):
        """True once pcscd lists both vpcd readers to this process."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False  # pcscd exited: its log says why
            if {"Virtual PCD 00 00", "Virtual PCD 00 01"} <= set(_readers()):
                return True
            time.sleep(0.05)
        return False

    def diagnosis(self):
        # libpcsclite fixes its socket name at its first call in a process: if something
        # in this process used PC/SC before, it still talks to the machine's pcscd
        code = "from devices import cards; print(cards.reader_names())"
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=30)
        log = self.log_path.read_text(errors="replace")[-2000:]
        return (f"readers seen by a fresh process: {child.stdout.strip() or child.stderr[-300:]}"
                f"\npcscd log:\n{log}")


@pytest.fixture(scope="module")
def pcscd(tmp_path_factory):
    binary = shutil.which("pcscd") or ("/usr/sbin/pcscd" if os.path.exists("/usr/sbin/pcscd")
                                        else None)
    if binary is None:
        unavailable("pcscd is not installed")
    daemon = PrivatePcscd(binary, tmp_path_factory.mktemp("pcscd"))
    saved = os.environ.get("PCSCLITE_CSOCK_NAME")
    os.environ["PCSCLITE_CSOCK_NAME"] = daemon.socket_path
    try:
        for attempt in range(2):  # a port taken between choosing and binding: start again
            daemon.start()
            if daemon.wait_for_readers():
                break
            daemon.stop()
            if attempt == 0:
                warnings.warn(f"pcscd showed no vpcd readers; starting it again. "
                              f"{daemon.diagnosis()}", stacklevel=1)
        else:
            pytest.fail("pcscd started twice but showed no vpcd readers; "
                        + daemon.diagnosis())
        yield daemon
    finally:
        daemon.stop()
        if saved is None:
            os.environ.pop("PCSCLITE_CSOCK_NAME", None)
        else:
            os.environ["PCSCLITE_CSOCK_NAME"] = saved


def _readers():
    try:
        return cards.reader_names()
    except Exception:  # noqa: BLE001 - pcscd not up yet
        return []


def test_no_pcscd_is_a_clear_error():
    # in a child process: libpcsclite keeps the socket name for the life of a process
    code = ("import threading; from devices import cards\n"
            "try:\n    cards.CardWatcher(print).run(threading.Event())\n"
            "except cards.CardError as e:\n    print('CardError', e)\n")
    env = dict(os.environ, PCSCLITE_CSOCK_NAME="/nonexistent/pcscd.comm")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=30)
    assert out.stdout.startswith("CardError PC/SC service (pcscd) not available"), out


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_uid_through_pcscd(pcscd):
    reader = "Virtual PCD 00 00"
    assert reader in cards.reader_names()
    with pytest.raises(cards.CardError, match="Virtual PCD 00 00"):
        cards.read_uid(reader)  # no card yet: a clear error
    with VirtualCard(UID, port=pcscd.port) as card:
        assert wait_for(lambda: _has_card(reader))
        assert cards.read_uid(reader) == UID.hex().upper()
        assert bytes.fromhex("FFCA000000") in card.apdus
        assert card.powered


def _has_card(reader):
    try:
        cards.read_uid(reader)
        return True
    except cards.CardError:
        return False


def test_monitor_sees_insert_and_remove(pcscd):
    events = []
    watcher = cards.CardWatcher(lambda a, d: events.append((a, d)), readers=["PCD 00 00"])
    stop = threading.Event()
    t = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    t.start()
    try:
        assert wait_for(lambda: watcher.state == "running")
        assert _port_open(pcscd.port)
        card = VirtualCard(UID, port=pcscd.port)
        card.insert()
        expected = {"uid": UID.hex().upper(), "reader": "Virtual PCD 00 00"}
        assert wait_for(lambda: ("inserted", expected) in events), events
        card.remove()
        assert wait_for(lambda: ("removed", expected) in events), events
        with VirtualCard(bytes.fromhex("08AABBCC"), port=pcscd.port):  # random UID: ignored
            time.sleep(1.5)
        assert [a for a, _ in events] == ["inserted", "removed"]
    finally:
        stop.set()
        t.join(5)
