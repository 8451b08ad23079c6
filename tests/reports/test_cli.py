"""`thuvien report`: the exports a clerk makes from the command line, their format from
the file's ending, their numbers the computed ones."""

import io

import openpyxl
import pypdf
import pytest

from appliance.cli import main
from appliance.core import circulation
from tests.factories import make_library, seed


def _busy(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkout(ctx, "C0001", "1002")
    circulation.checkin(ctx, "1002")


def test_statistics_of_a_branch_in_each_format(ctx, data_dir, tmp_path, capsys):
    _busy(ctx)
    day = ctx.clock.today().isoformat()
    args = ["report", "statistics", "--data", str(data_dir), "--from", day, "--to", day]
    for ending in ("xlsx", "pdf", "csv"):
        assert main(args + ["--out", str(tmp_path / f"r.{ending}")]) == 0
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    rows = {r[0]: r[1] for r in book.active.iter_rows(values_only=True) if r and r[0]}
    assert rows["Lượt mượn"] == 2 and rows["Lượt trả"] == 1
    text = pypdf.PdfReader(io.BytesIO((tmp_path / "r.pdf").read_bytes())).pages[0].extract_text()
    assert "\nLượt mượn\n2\n" in text and "BÁO CÁO THỐNG KÊ" in text
    assert "Lượt mượn,2," in (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    assert main(args + ["--out", str(tmp_path / "r.docx")]) == 1
    assert ".xlsx, .pdf" in capsys.readouterr().err
    assert main(args + ["--library", "PY-XX99", "--out", str(tmp_path / "x.csv")]) == 1


@pytest.fixture
def hub_dir(tmp_path):
    ctx = make_library(tmp_path / "hub", library="PY-TT01", name="Thư viện thị xã",
                       role="hub")
    seed(ctx)
    _busy(ctx)
    ctx.close()
    return tmp_path / "hub"


def test_the_semiannual_report_from_the_register(hub_dir, tmp_path):
    (tmp_path / "units.csv").write_text("code,name,level\nDH,Thị xã Đông Hòa,town\n",
                                        encoding="utf-8")
    (tmp_path / "libs.csv").write_text(
        "code,name,kind,unit,key_library\nPY-TT01,Thư viện thị xã,public,DH,1\n"
        "PY-TH03,Thư viện trường,school,DH,0\n", encoding="utf-8")
    assert main(["report", "register", "--data", str(hub_dir), "--units",
                 str(tmp_path / "units.csv"), "--libraries", str(tmp_path / "libs.csv")]) == 0
    from appliance.core.context import Context

    ctx = Context.open(hub_dir)
    half = f"{ctx.clock.today().year}-H{1 if ctx.clock.today().month <= 6 else 2}"
    ctx.close()
    out = tmp_path / "town.xlsx"
    assert main(["report", "semiannual", "--data", str(hub_dir), "--period", half,
                 "--out", str(out)]) == 0
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    header = next(r for r in rows if r and r[0] == "Thư viện")
    mine = next(r for r in rows if r and str(r[0]).startswith("Thư viện thị xã"))
    assert mine[header.index("Lượt mượn")] == 2
    assert main(["report", "semiannual", "--data", str(hub_dir), "--period", "2026-Q1",
                 "--out", str(out)]) == 1
