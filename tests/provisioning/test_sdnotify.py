"""sd_notify against a real unix datagram socket standing in for systemd's."""

import os
import socket
import time

import pytest

from provisioning import sdnotify


@pytest.fixture
def systemd_socket(tmp_path, monkeypatch):
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def test_ready_sends_the_protocol_bytes(systemd_socket):
    assert sdnotify.ready("serving on :8080")
    assert systemd_socket.recv(4096) == b"READY=1\nSTATUS=serving on :8080"


def test_abstract_socket(monkeypatch):
    name = f"thuvien-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.stopping()
        assert sock.recv(4096) == b"STOPPING=1"


def test_no_socket_is_a_noop(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.ready() is False
    assert sdnotify.start_watchdog()._thread is None


def test_dead_socket_does_not_raise(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert sdnotify.status("x") is False


def test_watchdog_interval_respects_pid(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sdnotify.watchdog_interval() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert sdnotify.watchdog_interval() is None


def _drain(sock, seconds):
    got, end = [], time.monotonic() + seconds
    sock.settimeout(0.05)
    while time.monotonic() < end:
        try:
            got.append(sock.recv(4096))
        except TimeoutError:
            pass
    return got


def test_watchdog_pings_while_healthy_and_stops_when_not(systemd_socket, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # 0.1 s: ping every 0.05 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    healthy = {"ok": True}
    dog = sdnotify.start_watchdog(lambda: healthy["ok"])
    try:
        pings = _drain(systemd_socket, 0.4)
        assert pings and set(pings) == {b"WATCHDOG=1"}
        healthy["ok"] = False
        _drain(systemd_socket, 0.1)  # a ping already in flight
        assert _drain(systemd_socket, 0.3) == []
    finally:
        dog.stop()
