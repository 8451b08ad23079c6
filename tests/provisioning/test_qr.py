"""Enrolment QR codes decode, with a real decoder (zbar), to exactly the token's JSON."""

import io
import json

from PIL import Image

from provisioning import qr
from tests.conftest import unavailable


def _decode(image):
    try:
        from pyzbar.pyzbar import decode
    except (ImportError, OSError) as exc:  # libzbar0 missing
        unavailable(f"zbar is missing: {exc}")
    return [r.data.decode("utf-8") for r in decode(image) if r.type == "QRCODE"]


TEXT = qr.enrolment_text("http://hub.thuvien.local:8080", "tvk_3J9x-Ab_Q7Zp2LmNoPqRsTu",
                         "PY-DH01", "2025-06-08T08:00:00Z")


def test_qr_png_decodes_to_the_token():
    image = Image.open(io.BytesIO(qr.qr_png(TEXT)))
    assert image.format == "PNG"
    assert _decode(image) == [TEXT]
    assert json.loads(_decode(image)[0])["token"] == "tvk_3J9x-Ab_Q7Zp2LmNoPqRsTu"


def test_printable_sheet_decodes_and_carries_vietnamese_lines():
    sheet = qr.printable_sheet(TEXT, "Mã đăng ký thiết bị", [
        "Thư viện: PY-DH01 — Phường Đông Hòa", "Hết hạn: 08/06/2025 15:00",
        "Chép tệp thuvien.json vào phân vùng khởi động"])
    assert sheet.height > sheet.width // 2
    assert _decode(sheet) == [TEXT]
    # a scanned (downsampled) print still reads
    small = sheet.resize((sheet.width // 2, sheet.height // 2))
    assert _decode(small) == [TEXT]
