"""The sync commands as a town administrator types them."""

import json
import subprocess
import sys
from pathlib import Path

from tests.sync.syncsupport import HubProcess, init

ROOT = Path(__file__).resolve().parents[2]


def thuvien(*args, ok=True):
    proc = subprocess.run([sys.executable, "-m", "appliance.cli", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert (proc.returncode == 0) == ok, proc.stderr
    return proc


def test_token_enroll_sync_status_export_import(tmp_path, hub_db):
    hub_dir = init(tmp_path / "hub", "PY-TV00", role="hub", database=hub_db)
    branch = init(tmp_path / "b", "PY-DH01")
    token = thuvien("hub", "token", "create", "--data", hub_dir, "--library", "PY-DH01")
    token = token.stdout.strip()
    thuvien("hub", "token", "create", "--data", hub_dir, "--library", "bad code", ok=False)
    with HubProcess(hub_dir) as hub:
        wrong = thuvien("enroll", "--data", branch, "--hub", hub.url, "--token", "nope", ok=False)
        assert "token" in wrong.stderr
        enrolled = thuvien("enroll", "--data", branch, "--hub", hub.url, "--token", token)
        assert "waiting for approval" in enrolled.stdout  # the hub's default: staff approve
        reused = thuvien("enroll", "--data", branch, "--hub", hub.url, "--token", token, ok=False)
        assert "failed" in reused.stderr
        waiting = thuvien("sync", "now", "--data", branch, ok=False)
        assert "pending_approval" in waiting.stderr
        pending = json.loads(thuvien("sync", "status", "--data", hub_dir).stdout)["devices"]
        assert [d["status"] for d in pending] == ["pending"]
        thuvien("hub", "device", "approve", "--data", hub_dir, pending[0]["id"])
        again = thuvien("hub", "device", "approve", "--data", hub_dir, pending[0]["id"], ok=False)
        assert "not waiting for approval" in again.stderr
        now = json.loads(thuvien("sync", "now", "--data", branch).stdout)
        assert now["pushed"] > 0
        status = json.loads(thuvien("sync", "status", "--data", branch).stdout)
        assert status["pending"] == 0 and status["last_error"] is None
        hub_status = json.loads(thuvien("sync", "status", "--data", hub_dir).stdout)
        device = hub_status["devices"][0]["id"]
        assert hub_status["devices"][0]["held_seq"] == now["cursor"]
    stick = tmp_path / "down.tvsync"
    thuvien("sync", "export", "--data", hub_dir, "--device", device, stick)
    first = json.loads(thuvien("sync", "import", "--data", branch, stick).stdout)
    again = json.loads(thuvien("sync", "import", "--data", branch, stick).stdout)
    assert again["already"] == again["batches"] == first["batches"]
    thuvien("hub", "device", "revoke", "--data", hub_dir, device)
    up = tmp_path / "up.tvsync"
    thuvien("sync", "export", "--data", branch, up)
    refused = thuvien("sync", "import", "--data", hub_dir, up, ok=False)
    assert "revoked_device" in refused.stdout
