"""Patron cards printed on A4 sheets: every card's barcode, read by zbar from the PDF's
own page images and from PNG, gives the card number."""

import io

from PIL import Image
from pypdf import PdfReader
from pyzbar import pyzbar

from appliance import patron_cards
from appliance.core import patrons
from appliance.core.roster import importing
from tests.roster import classlists as CL


def _decoded(img):
    return sorted(d.data.decode() for d in pyzbar.decode(img))


def test_a_class_of_cards_decodes_from_the_pdf(ctx):
    report = importing.run(ctx, CL.xlsx(CL.pupils(12)), consent=True)
    cards = [r.card for r in report.imported]
    patrons.save(ctx, {"card": "TV-0042", "name": "Lê Văn Tám", "category": "pupil",
                       "school_class": "6A"})
    chosen = patron_cards.chosen(ctx, "6A")
    assert len(chosen) == 13
    out = io.BytesIO()
    patron_cards.write_pdf(ctx, chosen, out, photo_box=True)
    reader = PdfReader(io.BytesIO(out.getvalue()))
    assert len(reader.pages) == 2  # ten a page
    found = []
    for page in reader.pages:
        for image in page.images:
            found += _decoded(Image.open(io.BytesIO(image.data)))
    # zbar keeps Codabar's start and stop letters
    assert sorted(found) == sorted([f"A{c}B" for c in cards] + ["TV-0042"])


def test_cards_by_number_and_what_they_say(ctx):
    patrons.save(ctx, {"card": "20001000000012", "name": "Nguyễn Thị Hồng Nhung Phương Thảo",
                       "category": "pupil", "school_class": "Lớp 5", "expiry": "2027-05-31"})
    chosen = patron_cards.chosen(ctx, cards=["20001000000012", " p0001 "])
    assert {p.card for p in chosen} == {"P0001", "20001000000012"}
    (page,) = patron_cards.sheets(chosen, "Thư viện trường Tiểu học Hòa Hiệp")
    png = io.BytesIO()
    page.save(png, "PNG")
    assert _decoded(Image.open(png)) == ["A20001000000012B", "P0001"]
    assert patron_cards.chosen(ctx) == []
