"""Reading a stocktake record back as an inspector would: the XLSX's cells (openpyxl)
and the PDF's text (pypdf)."""

import io

import openpyxl
import pypdf


def xlsx_rows(data):
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [tuple(c for c in row if c is not None)
            for row in book.active.iter_rows(values_only=True) if any(row)]


def pdf_text(data):
    return "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages)


def check_record(xlsx, pdf, library_name, lost_barcodes, who):
    """The record an inspection expects, in Vietnamese: title, library, dates, who, the
    counts and the lists, the same in both files."""
    rows = xlsx_rows(xlsx)
    flat = [str(c) for row in rows for c in row]
    assert rows[1] == ("BIÊN BẢN KIỂM KÊ",)
    assert any(library_name in c for c in flat)
    assert any(c.startswith("Bắt đầu lúc") and who in c for c in flat)
    assert any(c.startswith("Kết thúc lúc") for c in flat)
    assert ("Thiếu: phải có ở đây nhưng không thấy",) in rows
    for barcode in lost_barcodes:
        row = next(r for r in rows if len(r) > 2 and r[1] == barcode)
        assert row[-1] == "đã ghi là mất"
    text = pdf_text(pdf)
    assert "BIÊN BẢN KIỂM KÊ" in text and library_name in text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    for barcode in lost_barcodes:
        assert barcode in text
    return rows, text
