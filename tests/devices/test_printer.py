import os
import threading

import pytest
from PIL import ImageChops

from devices import printer

LINES = ["Bạn đọc: Nguyễn Thị Hồng Nhung", "1. Lịch sử Phú Yên — hạn trả 15/06/2025",
         "2. Đất rừng phương Nam — hạn trả 15/06/2025", "Tổng: 2 tài liệu"]


def test_raster_round_trip_equals_rendered_image():
    img = printer.render("Thư viện phường Đông Hòa", LINES, "Cảm ơn bạn! Hẹn gặp lại.")
    assert img.width == 384 and img.height > 150
    data = printer.receipt("Thư viện phường Đông Hòa", LINES, "Cảm ơn bạn! Hẹn gặp lại.")
    assert data.startswith(b"\x1b\x40") and data.endswith(b"\x1d\x56\x42\x00")
    back = printer.decode_raster(data)
    assert back.size == img.size
    assert ImageChops.difference(back.convert("L"), img.convert("L")).getbbox() is None


def test_gs_v_0_header_fields():
    img = printer.render("T", ["x"] * 20, width=576)
    data = printer.raster(img)
    assert data[:4] == b"\x1d\x76\x30\x00"
    assert int.from_bytes(data[4:6], "little") == 72  # 576 dots / 8
    first_rows = int.from_bytes(data[6:8], "little")
    assert first_rows == min(255, img.height)
    assert data[8 + 72 * first_rows:][:4] == b"\x1d\x76\x30\x00"  # next band follows
    assert sum(1 for _ in range(0, img.height, 255)) == data.count(b"\x1d\x76\x30\x00")


def test_vietnamese_glyphs_are_really_drawn():
    def ink(text):
        return printer.render(text, [])

    assert ImageChops.difference(ink("Đ"), ink("D")).getbbox() is not None
    assert ImageChops.difference(ink("ệ"), ink("e")).getbbox() is not None
    assert ImageChops.difference(ink("ơ"), ink("o")).getbbox() is not None
    # decomposed input (e + combining marks) draws the same as precomposed
    assert ImageChops.difference(ink("e\u0302\u0323"), ink("ệ")).getbbox() is None


def test_long_lines_wrap_inside_the_paper():
    img = printer.render("Phiếu mượn", ["Tên sách rất dài " * 12, "X" * 80])
    narrow = printer.render("Phiếu mượn", ["ngắn"])
    assert img.width == 384 and img.height > narrow.height * 2


def test_bad_width_refused():
    with pytest.raises(ValueError, match="paper width"):
        printer.render("x", [], width=500)
    with pytest.raises(ValueError, match="no GS v 0"):
        printer.decode_raster(b"\x1b\x40hello")


def test_print_over_a_pty():
    master, slave = os.openpty()
    import tty
    tty.setraw(slave)
    got = bytearray()

    def drain():
        while not got.endswith(b"\x1d\x56\x42\x00"):
            got.extend(os.read(master, 65536))

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    p = printer.Printer(os.ttyname(slave), width=384)
    sent = p.print_receipt("Biên nhận trả sách", LINES[:2])
    t.join(10)
    os.close(master)
    os.close(slave)
    assert len(got) == sent
    assert printer.decode_raster(bytes(got)).size == printer.render(
        "Biên nhận trả sách", LINES[:2]).size


def test_print_to_usb_device_file(tmp_path):
    dev = tmp_path / "usb" / "lp0"
    dev.parent.mkdir()
    dev.touch()
    printer.Printer(str(dev)).print_receipt("Phiếu", ["Đã mượn: 1"])
    data = dev.read_bytes()
    assert printer.decode_raster(data).width == 384 and data.endswith(printer.FEED_AND_CUT)
