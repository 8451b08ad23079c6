"""`thuvien patrons import FILE [--dry-run]`, `cards` and `new-year` as a librarian runs
them: the report on standard output in Vietnamese, the progress bar on standard error,
exit 1 when a row was refused."""

import json
import subprocess
import sys

from pypdf import PdfReader

from tests.roster import classlists as CL


def thuvien(*args):
    return subprocess.run([sys.executable, "-m", "appliance.cli", *args], capture_output=True,
                          text=True, timeout=120)


def test_import_a_class_list_from_the_command_line(tmp_path):
    data = str(tmp_path / "data")
    assert thuvien("init", "--data", data, "--library", "PY-TH01", "--name",
                   "Thư viện trường THCS Lê Lợi").returncode == 0
    rows = CL.pupils(30)
    rows[4][2] = "32/01/2013"
    listing = tmp_path / "lop6a.xlsx"
    listing.write_bytes(CL.xlsx(rows))
    dry = thuvien("patrons", "import", str(listing), "--data", data, "--dry-run", "--consent")
    assert dry.returncode == 1, dry.stderr
    assert "dòng 8: bị từ chối: 32/01/2013 không phải là ngày (ngày/tháng/năm)." in dry.stdout
    assert "Sẽ nhập 29 học sinh, từ chối 1 dòng (chưa thay đổi gì)." in dry.stdout
    run = thuvien("patrons", "import", str(listing), "--data", data, "--consent",
                  "--report", str(tmp_path / "report.json"))
    assert run.returncode == 1 and "100%" in run.stderr
    assert "Đã nhập 29 học sinh, từ chối 1 dòng." in run.stdout
    assert "dòng 4: 20001000000012 Nguyễn Văn Học Sinh 0 6A" in run.stdout
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert len(report["imported"]) == 29 and report["refused"][0]["line"] == 8
    good = tmp_path / "good.csv"
    good.write_text(CL.csv_text(CL.pupils(2, "7B", start=100)), encoding="utf-8")
    ok = thuvien("patrons", "import", str(good), "--data", data, "--consent", "--quiet",
                 "--lang", "en")
    assert ok.returncode == 0 and "2 pupils imported, 0 rows refused." in ok.stdout
    pdf = tmp_path / "the.pdf"
    cards = thuvien("patrons", "cards", "--data", data, "--class", "6A", "--out", str(pdf))
    assert cards.returncode == 0 and len(PdfReader(str(pdf)).pages) == 3
    plan = thuvien("patrons", "new-year", "--data", data)
    assert "6A → 7A (29 học sinh)" in plan.stdout and "Chưa thay đổi gì" in plan.stdout
    done = thuvien("patrons", "new-year", "--data", data, "--yes")
    assert done.returncode == 0 and "Xong: 31 học sinh." in done.stdout


def test_bad_files_are_said_and_change_nothing(tmp_path):
    data = str(tmp_path / "data")
    thuvien("init", "--data", data, "--library", "PY-TH01", "--name", "x")
    for name, body, words in (
            ("empty.csv", b"", "Tệp rỗng."),
            ("fake.xlsx", b"PK\x03\x04 not a zip", "bảng tính Excel")):
        path = tmp_path / name
        path.write_bytes(body)
        run = thuvien("patrons", "import", str(path), "--data", data)
        assert run.returncode == 1 and words in run.stderr, (name, run.stderr)
        assert "Traceback" not in run.stderr
    missing = thuvien("patrons", "import", str(tmp_path / "nope.xlsx"), "--data", data)
    assert missing.returncode == 1 and "Không có tệp" in missing.stderr
    listing = tmp_path / "map.csv"
    listing.write_text("Lê An,05/03/2013,Cha\n", encoding="utf-8")  # no headings
    mapped = thuvien("patrons", "import", str(listing), "--data", data, "--consent",
                     "--map", "name=A", "--map", "birth_date=b", "--map", "guardian=C")
    assert mapped.returncode == 0, mapped.stdout + mapped.stderr
    wrong = thuvien("patrons", "import", str(listing), "--data", data, "--map", "name=Z")
    assert wrong.returncode == 1 and "Tệp không có cột Z" in wrong.stderr
