"""`thuvien training record` and `thuvien training status` on a data folder."""

import json
import subprocess
import sys

from appliance.core.training import exercises, records


def _thuvien(data_dir, *args):
    return subprocess.run([sys.executable, "-m", "appliance.cli", *args, "--data",
                           str(data_dir)], capture_output=True, text=True, timeout=120)


def test_record_a_course_and_see_the_status(ctx, data_dir, tmp_path):
    for code in exercises.CORE:
        records.exercise_done(ctx, "thuthu", code, "", 30)
    cert = tmp_path / "chung-nhan.pdf"
    cert.write_bytes(b"%PDF-1.4\n%%EOF\n")
    ctx.close()
    r = _thuvien(data_dir, "training", "record", "quanly", "--name", "Quản lý thư viện số",
                 "--organiser", "Thư viện Quốc gia", "--date", "2026-03-01", "--hours", "16",
                 "--certificate", str(cert), "--by", "admin")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["certificate"]["type"] == "application/pdf"
    r = _thuvien(data_dir, "training", "status", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    mine = data["libraries"]["PY-DH01"]
    assert mine["trained"] == ["quanly", "thuthu"] and mine["untrained"] == ["hub"]
    assert (data["trained"], data["staff"]) == (2, 3)
    r = _thuvien(data_dir, "training", "status")
    assert "PY-DH01: 2/3 đã được đào tạo; còn cần đào tạo: hub" in r.stdout
    r = _thuvien(data_dir, "training", "record", "an", "--name", "X", "--organiser", "Y",
                 "--date", "hôm qua", "--hours", "2")
    assert r.returncode != 0 and "hôm qua" in r.stderr
