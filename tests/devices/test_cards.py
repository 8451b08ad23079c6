import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from devices import cards
from devices.cards_vpcd import ATR, VPCD_PORT, VirtualCard, answer
from tests.conftest import unavailable

UID = bytes.fromhex("04A1B2C3D4E5F6")
SOCKET = "/run/pcscd/pcscd.comm"


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


def _pcscd_alive():
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(SOCKET)
        return True
    except OSError:
        return False


def _port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def pcscd():
    binary = shutil.which("pcscd") or ("/usr/sbin/pcscd" if os.path.exists("/usr/sbin/pcscd")
                                        else None)
    if binary is None:
        unavailable("pcscd is not installed")
    proc = None
    if not _pcscd_alive():
        proc = subprocess.Popen([binary, "-f", "-a", "-i"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 15
        while time.monotonic() < end:
            if _pcscd_alive() and any("Virtual PCD" in r for r in _readers()):
                break
            time.sleep(0.1)
        else:
            pytest.fail("pcscd started but shows no vpcd reader")
        yield
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


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
    with VirtualCard(UID) as card:
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
        assert _port_open(VPCD_PORT)
        card = VirtualCard(UID)
        card.insert()
        expected = {"uid": UID.hex().upper(), "reader": "Virtual PCD 00 00"}
        assert wait_for(lambda: ("inserted", expected) in events), events
        card.remove()
        assert wait_for(lambda: ("removed", expected) in events), events
        with VirtualCard(bytes.fromhex("08AABBCC")):  # random UID: ignored
            time.sleep(1.5)
        assert [a for a, _ in events] == ["inserted", "removed"]
    finally:
        stop.set()
        t.join(5)
