"""`thuvien import` / `thuvien export` as a librarian runs them."""

import subprocess
import sys
from pathlib import Path

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "marc"


def thuvien(*args):
    return subprocess.run([sys.executable, "-m", "appliance.cli", *args], capture_output=True,
                          text=True, timeout=60)


def test_import_export_round_trip_with_report(tmp_path):
    data = str(tmp_path / "data")
    assert thuvien("init", "--data", data, "--library", "PY-DH01", "--name", "Đông Hòa"
                   ).returncode == 0
    bad = thuvien("import", "--data", data, "marc", str(FIX / "bad_records.mrc"),
                  "--report", str(tmp_path / "rep.json"))
    assert bad.returncode == 3  # something was skipped
    assert "record 4: skipped: RecordDirectoryInvalid" in bad.stdout
    assert "100%" in bad.stderr  # the progress bar reached the end
    ok = thuvien("import", "--data", data, "csv", str(FIX / "vn-catalogue.csv"))
    assert ok.returncode == 0 and "64 records created" in ok.stdout
    out = tmp_path / "out.mrc"
    assert thuvien("export", "--data", data, "marc", str(out)).returncode == 0
    fresh = str(tmp_path / "fresh")
    thuvien("init", "--data", fresh, "--library", "PY-DH01", "--name", "x")
    again = thuvien("import", "--data", fresh, "marc", str(out), "--quiet")
    assert "66 records created" in again.stdout and again.returncode == 0
    assert thuvien("verify", "--data", fresh).returncode == 0
    missing = thuvien("import", "--data", data, "marc", str(tmp_path / "nope.mrc"))
    assert missing.returncode == 1 and "no such file" in missing.stderr
