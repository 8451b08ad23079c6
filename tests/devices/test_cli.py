import json
import os
import signal
import subprocess
import sys
import time

import requests

from tests.conftest import free_port


def thuvien(*args, **kw):
    return subprocess.run([sys.executable, "-m", "appliance.cli", *args], capture_output=True,
                          text=True, timeout=60, **kw)


def test_check_prints_drivers(tmp_path):
    (tmp_path / "device-token").write_text("tok")
    (tmp_path / "devices.json").write_text(json.dumps({
        "scanners": [{"name": "desk", "port": "/dev/ttyACM0"}],
        "rfid": {"protocol": "feig", "port": "/dev/ttyUSB0"}, "cards": {}}))
    out = thuvien("devices", "--data", str(tmp_path), "--check")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["drivers"] == ["scanner:desk", "rfid:pad", "card:reader0"]


def test_bad_config_is_a_clear_error(tmp_path):
    (tmp_path / "devices.json").write_text('{"rfid": {"protocol": "x", "port": "p"}}')
    out = thuvien("devices", "--data", str(tmp_path))
    assert out.returncode == 1 and "protocol must be one of" in out.stderr


def test_daemon_runs_and_stops_on_sigterm(tmp_path):
    port = free_port()
    (tmp_path / "device-token").write_text("tok")
    (tmp_path / "devices.json").write_text(json.dumps({
        "appliance": f"http://127.0.0.1:{free_port()}", "api": {"port": port},
        "scanners": [{"name": "desk", "port": str(tmp_path / "no-such-tty")}]}))
    proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "devices", "--data",
                             str(tmp_path)], stderr=subprocess.PIPE, text=True)
    try:
        # The API answers as soon as it listens; the supervisor thread may not yet have
        # started the driver, which it reports honestly as "starting".
        status = None
        for _ in range(100):
            try:
                status = requests.get(f"http://127.0.0.1:{port}/status", timeout=1).json()
                if status["drivers"]["scanner:desk"]["state"] != "starting":
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        assert status is not None
        assert status["drivers"]["scanner:desk"]["state"] == "running"
        assert status["drivers"]["scanner:desk"]["device"] == "searching"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(15) == 0
