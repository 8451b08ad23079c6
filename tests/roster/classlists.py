"""Class lists as schools send them, made for the tests."""

import io
from datetime import date

import openpyxl

HEADER = ["STT", "Họ và tên", "Ngày sinh", "Lớp", "Giới tính", "Họ tên phụ huynh",
          "Số điện thoại"]


def pupils(count, school_class="6A", start=0):
    """Rows of distinct pupils (born 2013-2014: children in 2026)."""
    return [[n + 1, f"Nguyễn Văn Học Sinh {n + start}", date(2013 + n % 2, 1 + n % 12,
                                                               1 + n % 28),
             school_class, "Nam" if n % 2 else "Nữ", f"Nguyễn Văn Phụ Huynh {n + start}",
             912000000 + n + start] for n in range(count)]


def xlsx(rows, header=HEADER, titles=("TRƯỜNG THCS LÊ LỢI", "DANH SÁCH HỌC SINH LỚP 6A")):
    book = openpyxl.Workbook()
    sheet = book.active
    for title in titles:
        sheet.append([title])
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_text(rows, header=HEADER, sep=","):
    def cell(value):
        if isinstance(value, date):
            return value.strftime("%d/%m/%Y")
        text = str(value)
        return f'"{text}"' if sep in text else text
    return "\n".join(sep.join(cell(v) for v in row) for row in [header, *rows]) + "\n"
