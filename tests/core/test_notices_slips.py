"""Notice slips as PDF: per patron and per class, in Vietnamese, read back with pypdf."""

import io

import pytest
from pypdf import PdfReader

from appliance import notice_slips
from tests.notices_world import make_world


@pytest.fixture
def world(ctx):
    make_world(ctx)
    return ctx


def _text(ctx, **chosen):
    out = io.BytesIO()
    notice_slips.write_pdf(ctx, notice_slips.chosen(ctx, **chosen), out,
                           by_class=bool(chosen.get("school_class")))
    reader = PdfReader(io.BytesIO(out.getvalue()))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def test_a_class_gets_the_slips_of_its_pupils_only_with_a_childs_guardian(world):
    text, _ = _text(world, school_class="6A")
    assert "Lớp 6A" in text and "PHIẾU BÁO BẠN ĐỌC" in text
    assert "Phạm Gia Huy" in text and "Trần Thị Bình" in text
    assert "Kính gửi phụ huynh: Phạm Văn Đức" in text
    assert "Quá hạn trả từ ngày" in text and "Dế Mèn phiêu lưu ký" in text
    assert "Nguyễn Văn An" not in text  # not of 6A


def test_a_patrons_slip_has_the_hold_ready_and_the_overdue_copy(world):
    text, pages = _text(world, cards=["p0001"])
    assert pages == 1 and "Nguyễn Văn An" in text and "Thẻ: P0001" in text
    assert "Sách đặt đã có, mời đến nhận trước hết ngày" in text
    assert "Truyện Kiều" in text and "Số đỏ" in text
    assert "Trần Thị Bình" not in text


def test_every_class_begins_a_page(world):
    text, pages = _text(world)
    assert "Nguyễn Văn An" in text and "Phạm Gia Huy" in text
    out = io.BytesIO()
    notice_slips.write_pdf(world, notice_slips.chosen(world), out, by_class=True)
    assert len(PdfReader(io.BytesIO(out.getvalue())).pages) == 2  # no class; 6A
