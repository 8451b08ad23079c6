"""`thuvien stocktake {start,scan,finish,report}`: the desk's work from the command line,
the record written as XLSX and PDF and read back."""

import json

from appliance.cli import main
from tests.stocktake.records import check_record, xlsx_rows


def test_start_scan_finish_report(ctx, data_dir, tmp_path, capsys, monkeypatch):
    base = ["--data", str(data_dir)]
    assert main(["stocktake", "start", *base, "--by", "Lan"]) == 0
    started = json.loads(capsys.readouterr().out)
    assert started["started_by"] == "Lan" and started["finished_at"] is None
    assert main(["stocktake", "scan", *base, "1001", "1001", "X-1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split("\t")[:2] for ln in lines] == [
        ["1001", "ok"], ["1001", "ok (again)"], ["X-1", "unknown"]]
    listed = tmp_path / "codes.txt"
    listed.write_text("1002\n\n1003\n")
    assert main(["stocktake", "scan", *base, "--file", str(listed)]) == 0
    capsys.readouterr()
    assert main(["stocktake", "finish", *base, "--by", "Lan"]) == 0
    counts = json.loads(capsys.readouterr().out)["counts"]
    assert (counts["seen"], counts["missing"], counts["unexpected"]) == (4, 2, 1)
    assert main(["stocktake", "scan", *base, "1004"]) == 1
    assert "No stocktake is open" in capsys.readouterr().err
    assert main(["stocktake", "report", *base]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["missing"] == ["1004", "1005"] and report["unexpected"] == ["X-1"]
    for ending in ("xlsx", "pdf"):
        assert main(["stocktake", "report", *base, "--id", started["id"],
                     "--out", str(tmp_path / f"kk.{ending}")]) == 0
    rows, text = check_record((tmp_path / "kk.xlsx").read_bytes(),
                              (tmp_path / "kk.pdf").read_bytes(),
                              "Thư viện phường Hòa Hiệp Trung", [], "Lan")
    assert ("Thiếu", 2) in rows and "1005" in text
    assert main(["stocktake", "report", *base, "--out", str(tmp_path / "kk.docx")]) == 1
    assert main(["stocktake", "report", *base, "--lang", "en",
                 "--out", str(tmp_path / "en.xlsx")]) == 0
    assert ("STOCKTAKE RECORD",) in xlsx_rows((tmp_path / "en.xlsx").read_bytes())
