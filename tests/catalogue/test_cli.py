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


def test_broken_files_give_a_report_never_a_traceback(tmp_path):
    """With the progress bar on, as a librarian runs it."""
    data = str(tmp_path / "data")
    assert thuvien("init", "--data", data, "--library", "PY-DH01", "--name", "x").returncode == 0
    batch = (FIX / "batch.xml").read_bytes()
    iso = (FIX / "marc.dat").read_bytes()
    files = {  # name: (format, bytes, records created)
        "bad-tag.xml": ("marcxml", batch.replace(b'<marc:datafield tag="245"',
                                                 b"<marc:datafield", 1), 1),
        # the record bad-tag.xml lost comes in, the other is merged
        "escape.xml": ("marcxml", batch.replace(b"Charles", b"Charles&#x1B;(B"), 1),
        "cut.mrc": ("marc", iso[:len(iso) // 2], None),
        "empty.xml": ("marcxml", b"", 0),
        "noise.mrc": ("marc", bytes(range(256)) * 4, 0),
        "utf16.csv": ("csv", "title\nSố đỏ\n".encode("utf-16"), 0),
    }
    for name, (kind, body, created) in files.items():
        path = tmp_path / name
        path.write_bytes(body)
        run = thuvien("import", "--data", data, kind, str(path))
        assert "Traceback" not in run.stderr, (name, run.stderr)
        assert run.returncode == (0 if name == "escape.xml" else 3), (name, run.stdout)
        if created is not None:
            assert f"{created} records created" in run.stdout, (name, run.stdout)
        if run.returncode:
            assert "skipped: " in run.stdout, (name, run.stdout)
    assert thuvien("verify", "--data", data).returncode == 0
