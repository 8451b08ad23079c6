"""The desk cataloguing form through Flask's test client: create, edit, copy-catalogue,
copies with generated barcodes, label sheets decoded by zbar, covers."""

import io
import re

from PIL import Image
from pyzbar import pyzbar

from appliance.core import barcodes
from appliance.core.models import Bib, Event, Item
from tests.conftest import staff_login


def _login(client, username="thuthu"):
    return staff_login(client, username, landing="/desk/catalogue/")


def _record_form(token, **values):
    data = {"csrf_token": token, "title": "Mùa lá rụng trong vườn", "authors": "Ma Văn Kháng",
            "publisher": "NXB Phụ nữ", "year": "1985", "isbn": "", "language": "vie",
            "ddc": "895.9223", "subjects": "Tiểu thuyết; Văn học Việt Nam",
            "series": "Văn học nhà trường", "notes": "Giải thưởng Hội Nhà văn 1986"}
    data.update(values)
    return data


def test_staff_only(client):
    assert client.get("/desk/catalogue/new").status_code == 302  # to the login page
    _login(client, "kiosk")
    assert client.get("/desk/catalogue/new").status_code == 403


def test_create_and_edit_a_record(client):
    token = _login(client)
    r = client.post("/desk/catalogue/new", data=_record_form(token))
    assert r.status_code == 302
    bib = Bib.get(Bib.title == "Mùa lá rụng trong vườn")
    assert r.headers["Location"].endswith(f"/desk/catalogue/{bib.id}")
    assert bib.authors == ["Ma Văn Kháng"] and bib.year == 1985
    assert bib.subjects == ["Tiểu thuyết", "Văn học Việt Nam"]
    assert bib.series == "Văn học nhà trường" and bib.notes.startswith("Giải thưởng")
    page = client.get(f"/desk/catalogue/{bib.id}/edit").get_data(as_text=True)
    assert 'value="Tiểu thuyết; Văn học Việt Nam"' in page
    r = client.post(f"/desk/catalogue/{bib.id}/edit",
                    data=_record_form(token, year="1986", subjects="Tiểu thuyết"))
    assert r.status_code == 302
    bib = Bib.get_by_id(bib.id)
    assert bib.year == 1986 and bib.subjects == ["Tiểu thuyết"]
    # the edit is an event, and search sees it
    from appliance.core import search
    assert search.search("mua la rung")["results"][0]["bib_id"] == bib.id


def test_bad_input_is_refused_in_vietnamese_and_changes_nothing(client):
    token = _login(client)
    before = Event.select().count()
    for bad, words in (({"year": "năm ngoái"}, "số nguyên"), ({"isbn": "9786040000018"}, "ISBN"),
                       ({"title": "  "}, "nhan đề"), ({"ddc": "abc"}, "DDC")):
        r = client.post("/desk/catalogue/new", data=_record_form(token, **bad))
        page = r.get_data(as_text=True)
        assert r.status_code == 400, bad
        assert words.lower() in page.lower(), (bad, words)
        assert 'value="Ma Văn Kháng"' in page  # the form keeps what was typed
    r = client.post("/desk/catalogue/new", data=_record_form(""))  # no CSRF token
    assert r.status_code == 400
    assert Event.select().count() == before


def test_copy_cataloguing_from_an_isbn(client, ctx):
    token = _login(client)
    kieu = Bib.get(Bib.title == "Truyện Kiều")
    r = client.post("/desk/catalogue/copy", data={"csrf_token": token,
                                                  "isbn": "978-604-000-001-9"})
    assert r.headers["Location"].endswith(f"/desk/catalogue/{kieu.id}")
    # a valid ISBN the catalogue lacks starts a new record with it
    r = client.post("/desk/catalogue/copy", data={"csrf_token": token, "isbn": "9786040000033"})
    assert r.status_code == 302 and "isbn=9786040000033" in r.headers["Location"]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'value="9786040000033"' in page
    r = client.post("/desk/catalogue/copy", data={"csrf_token": token, "isbn": "12345"})
    assert r.status_code == 400 and "ISBN" in r.get_data(as_text=True)
    # a new edition starts from the held record, without its ISBN
    page = client.get(f"/desk/catalogue/new?from={kieu.id}").get_data(as_text=True)
    assert 'value="Truyện Kiều"' in page and 'value="Nguyễn Du"' in page
    assert "9786040000019" not in page
    before = Bib.select().count()
    client.post("/desk/catalogue/new", data=_record_form(token, title="Truyện Kiều (bản mới)",
                                                          isbn="9786040000033"))
    assert Bib.select().count() == before + 1


def _decoded(png_bytes):
    image = Image.open(io.BytesIO(png_bytes))
    return sorted((s.type, s.data.decode()) for s in pyzbar.decode(image))


def test_copies_get_generated_barcodes_and_their_labels_decode(client, ctx):
    token = _login(client)
    bib = Bib.get(Bib.title == "Số đỏ")
    r = client.post(f"/desk/catalogue/{bib.id}/copies",
                    data={"csrf_token": token, "count": "3", "item_type": "book",
                          "location": "Kệ 2", "call_number": "895.9223 VTP"})
    assert r.status_code == 302 and "/desk/catalogue/labels?" in r.headers["Location"]
    made = [i.barcode for i in Item.select().where((Item.bib == bib.id)
                                                    & (Item.barcode != "1002"))]
    assert len(made) == 3
    for code in made:
        assert len(code) == 14 and code.startswith("3") and \
            barcodes.luhn_digit(code[:-1]) == code[-1]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert all(f'value="{c}" checked' in page for c in made)
    query = "&".join(f"barcode={c}" for c in made)
    png = client.get(f"/desk/catalogue/labels/print?{query}&symbology=codabar&format=png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert _decoded(png.data) == sorted(("CODABAR", f"A{c}B") for c in made)
    png = client.get(f"/desk/catalogue/labels/print?{query}&symbology=code128&format=png")
    assert _decoded(png.data) == sorted(("CODE128", c) for c in made)
    pdf = client.get(f"/desk/catalogue/labels/print?{query}&kind=spine")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert "attachment" in pdf.headers["Content-Disposition"]


def test_label_and_copy_refusals(client, ctx, monkeypatch):
    from appliance.core import catalogue
    from appliance.web import cataloguing

    token = _login(client)
    bib = Bib.get(Bib.title == "Số đỏ")
    before = Item.select().count()
    for count in ("0", "51", "ba"):
        r = client.post(f"/desk/catalogue/{bib.id}/copies", data={"csrf_token": token,
                                                                 "count": count})
        assert "từ 1 đến 50" in client.get(r.headers["Location"]).get_data(as_text=True)
    r = client.post(f"/desk/catalogue/{bib.id}/copies",
                    data={"csrf_token": token, "count": "2", "item_type": "spaceship"})
    assert "spaceship" in client.get(r.headers["Location"]).get_data(as_text=True)
    # the second copy is refused (its barcode clashes): the first goes back with it
    monkeypatch.setattr(cataloguing.barcodes, "next_barcode", lambda ctx: "30001000099990")
    r = client.post(f"/desk/catalogue/{bib.id}/copies", data={"csrf_token": token,
                                                             "count": "2"})
    assert "30001000099990" in client.get(r.headers["Location"]).get_data(as_text=True)
    assert Item.select().count() == before
    # digits print as Codabar; letters cannot, and the page says so
    r = client.get("/desk/catalogue/labels/print?barcode=1002&symbology=codabar&format=png")
    assert r.status_code == 200 and _decoded(r.data) == [("CODABAR", "A1002B")]
    catalogue.save_item(ctx, {"bib": bib.id, "barcode": "DH-1"})
    r = client.get("/desk/catalogue/labels/print?barcode=DH-1&symbology=codabar")
    assert r.status_code == 302
    assert "Code 128" in client.get(r.headers["Location"]).get_data(as_text=True)
    r = client.get("/desk/catalogue/labels/print?symbology=code128")
    assert r.status_code == 302
    assert "Chọn ít nhất một bản" in client.get(r.headers["Location"]).get_data(as_text=True)


def _png(size=(400, 600), colour=(200, 30, 30)):
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def test_cover_upload_thumbnail_and_placeholder(client, ctx):
    token = _login(client)
    bib = Bib.get(Bib.title == "Truyện Kiều")
    placeholder = client.get(f"/opac/cover/{bib.id}?size=thumb")
    assert placeholder.mimetype == "image/svg+xml" and b"<svg" in placeholder.data
    r = client.post(f"/desk/catalogue/{bib.id}/cover", content_type="multipart/form-data",
                    data={"csrf_token": token, "cover": (io.BytesIO(_png()), "bia.png")})
    assert r.status_code == 302
    thumb = ctx.data_dir / "covers" / f"{bib.id}-thumb.jpg"
    assert thumb.exists()
    with Image.open(thumb) as im:
        assert im.format == "JPEG" and im.size == (120, 180)
        assert im.getpixel((60, 90))[0] > 150  # still the red picture
    served = client.get(f"/opac/cover/{bib.id}?size=thumb")
    assert served.mimetype == "image/jpeg" and served.data == thumb.read_bytes()
    html = client.get("/opac/?q=truyen+kieu").get_data(as_text=True)
    assert f"/opac/cover/{bib.id}?size=thumb" in html
    assert f"/opac/cover/{bib.id}" in client.get(f"/opac/record/{bib.id}").get_data(as_text=True)


def test_non_images_are_refused_with_a_clear_message(client, ctx):
    token = _login(client)
    bib = Bib.get(Bib.title == "Số đỏ")
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    for payload, name in ((b"#!/bin/sh\necho hi\n", "bia.jpg"), (_png()[:60], "cut.png"),
                          (gif.getvalue(), "bia.gif"), (b"\xff\xd8\xff" + b"0" * (6 << 20), "big.jpg"),
                          (b"", "empty.png")):
        r = client.post(f"/desk/catalogue/{bib.id}/cover", content_type="multipart/form-data",
                        data={"csrf_token": token, "cover": (io.BytesIO(payload), name)})
        page = r.get_data(as_text=True)
        assert r.status_code == 400, name
        assert re.search(r"JPEG|PNG|5 MB|Chọn", page), name
    assert not (ctx.data_dir / "covers").exists() or \
        not list((ctx.data_dir / "covers").glob(f"{bib.id}*"))
