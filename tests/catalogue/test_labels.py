"""Printed labels decode with a real decoder (zbar through pyzbar)."""

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pyzbar import pyzbar

from appliance import labels as L


def _decoded(img):
    return sorted((d.type, d.data.decode()) for d in pyzbar.decode(img))


def test_luhn_digit_known_values():
    assert L.luhn_digit("7992739871") == "3"  # the textbook example
    assert L.luhn_ok("79927398713") and not L.luhn_ok("79927398710")
    n = L.library_number("3", "0001", 1234)
    assert len(n) == 14 and n.startswith("30001") and L.luhn_ok(n)


@given(st.integers(0, 10**8 - 1), st.sampled_from("23"))
def test_library_numbers_are_14_digits_with_a_luhn_check(seq, kind):
    n = L.library_number(kind, "0042", seq)
    assert len(n) == 14 and L.luhn_ok(n)
    # any single-digit error is caught
    wrong = n[:5] + str((int(n[5]) + 1) % 10) + n[6:]
    assert not L.luhn_ok(wrong)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=[chr(c) for c in range(32, 127)], min_size=1, max_size=20))
def test_code128_decodes_to_the_same_text(text):
    assert _decoded(L.barcode_image(text)) == [("CODE128", text)]


def test_code128_all_symbol_values_are_exercised():
    # every printable character (set B) and every digit pair (set C)
    text_b = "".join(chr(c) for c in range(32, 127))
    for chunk in (text_b[i:i + 24] for i in range(0, len(text_b), 24)):
        assert _decoded(L.barcode_image(chunk)) == [("CODE128", chunk)]
    digits = "".join(f"{n:02d}" for n in range(100))
    for chunk in (digits[i:i + 24] for i in range(0, len(digits), 24)):
        assert _decoded(L.barcode_image(chunk)) == [("CODE128", chunk)]


def test_rejects_what_cannot_be_encoded():
    with pytest.raises(L.LabelError):
        L.barcode_image("Đ")
    with pytest.raises(L.LabelError):
        L.barcode_image("12AB", "codabar")
    with pytest.raises(L.LabelError):
        L.library_number("3", "12", 1)


def test_label_sheet_codabar_every_label_decodes():
    codes = [L.library_number("3", "0001", i) for i in range(1, 8)]
    labels = [L.Label(c, "Truyện Kiều", "Thư viện phường Đông Hòa") for c in codes]
    (page,) = L.barcode_sheet(labels, "codabar")
    # zbar keeps Codabar's start/stop letters
    assert _decoded(page) == sorted(("CODABAR", f"A{c}B") for c in codes)


def test_label_sheet_code128_through_pdf_and_png():
    codes = [f"DH{n:06d}" for n in range(30)]  # more than one page
    pages = L.barcode_sheet([L.Label(c, "Số đỏ", "PY-DH01") for c in codes])
    assert len(pages) == 2
    found = _decoded(pages[0]) + _decoded(pages[1])
    assert sorted(found) == sorted(("CODE128", c) for c in codes)
    pdf = io.BytesIO()
    L.save_pages(pages, pdf)
    assert pdf.getvalue().startswith(b"%PDF")
    png = io.BytesIO()
    L.save_pages(pages, png, "PNG")
    png.seek(0)
    assert len(_decoded(Image.open(png))) == 24


def test_spine_labels_show_the_call_number():
    assert L.call_number_lines("895.9223  NG527D 2019") == ["895.9223", "NG527D", "2019"]
    (page,) = L.spine_sheet([L.Label("x", call_number="895.9223 NG527D")] * 3)
    # the labels have ink (text drawn), and the page is A4 at 300 dpi
    assert page.size == L.A4
    assert page.crop((0, 0, L.A4[0] // 8, L.A4[1] // 10)).getextrema()[0] == 0
