"""The desk's class list screens through the web app: upload, columns, preview with
every problem, import, report, cards; the new school year; bad files said, nothing
changed."""

import io
import re

from pypdf import PdfReader

from appliance.core.models import Event, Library, Patron
from tests.conftest import staff_login
from tests.roster import classlists as CL


def _upload(client, token, data, name="lop6a.xlsx"):
    return client.post("/desk/patrons/import", data={"csrf_token": token,
                                                     "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_upload_preview_import_print(client, ctx):
    token = staff_login(client)
    rows = CL.pupils(4) + [[5, "", "01/01/2013", "6A", "Nam", "Cha", ""]]
    r = _upload(client, token, CL.xlsx(rows))
    assert r.status_code == 302
    where = r.headers["Location"]
    page = client.get(where).get_data(as_text=True)
    assert 'id="f_name"' in page and "Họ và tên" in page
    assert page.count("Dưới 16 tuổi: hãy xác nhận phụ huynh đã đồng ý.") == 5
    page = client.get(where + "?consent=1&f_name=1&f_birth_date=2&f_school_class=3"
                              "&f_guardian=5&f_phone=6").get_data(as_text=True)
    assert "4 dòng nhập được; 1 dòng có lỗi sẽ bị bỏ qua." in page
    assert '<span class="problem" data-code="name_required">Thiếu họ tên.</span>' in page
    assert "Nhập 4 học sinh" in page
    before = Event.select().where(Event.kind != "patron.key").count()
    r = client.post(where, data={"csrf_token": token, "consent": "1", "f_name": "1",
                                 "f_birth_date": "2", "f_school_class": "3",
                                 "f_guardian": "5", "f_phone": "6"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Đã nhập 4 học sinh, từ chối 1 dòng." in html
    assert Event.select().where(Event.kind != "patron.key").count() == before + 4
    assert client.get(where).status_code == 404  # the file is gone once imported
    cards = re.search(r'name="cards" value="([^"]+)"', html).group(1).split()
    assert len(cards) == 4
    r = client.post("/desk/patrons/cards", data={"csrf_token": token, "cards": " ".join(cards),
                                                 "photo_box": "1"})
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert len(PdfReader(io.BytesIO(r.data)).pages) == 1
    listing = client.get("/desk/patrons/cards").get_data(as_text=True)
    assert '<option value="6A">6A (4)</option>' in listing
    assert client.post("/desk/patrons/cards", data={"csrf_token": token}).status_code == 400


def test_bad_files_are_said_and_nothing_kept(client, ctx):
    token = staff_login(client)
    for data, words in ((b"", "Tệp rỗng."), (b"PK\x03\x04junk", "bảng tính Excel"),
                        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "Excel cũ")):
        r = _upload(client, token, data)
        assert r.status_code == 400 and words in r.get_data(as_text=True)
    uploads = ctx.data_dir / "uploads"
    assert not uploads.exists() or not list(uploads.iterdir())
    r = client.post("/desk/patrons/import", data={"csrf_token": token})
    assert r.status_code == 400
    assert client.get("/desk/patrons/import/../../settings.json").status_code == 404
    assert client.get("/desk/patrons/import/" + "A" * 24).status_code == 404
    assert Patron.select().where(Patron.school_class.is_null(False)).count() == 0


def test_new_school_year_at_the_desk(client, ctx):
    token = staff_login(client)
    r = _upload(client, token, CL.xlsx(CL.pupils(3, "9A") + CL.pupils(2, "8B", start=50)))
    client.post(r.headers["Location"], data={"csrf_token": token, "consent": "1"})
    page = client.get("/desk/patrons/new-year").get_data(as_text=True)
    assert "ra trường" in page and "8B" in page and "9B" in page
    plan = re.search(r'name="token" value="([^"]+)"', page).group(1)
    expiry = re.search(r'name="expiry" value="([^"]+)"', page).group(1)
    r = client.post("/desk/patrons/new-year", data={"csrf_token": token, "token": plan,
                                                    "last_grade": "9", "expiry": expiry,
                                                    "classes": ["8B", "9A"]})
    assert r.status_code == 302
    assert Patron.select().where(Patron.school_class == "9B").count() == 2
    assert Patron.select().where(Patron.school_class == "9A").count() == 0
    r = client.post("/desk/patrons/new-year", data={"csrf_token": token, "token": plan,
                                                    "classes": ["8B", "9A"]},
                    follow_redirects=True)
    assert "Các lớp đã thay đổi từ lúc xem trước" in r.get_data(as_text=True)
    assert 'id="begun"' in client.get("/desk/patrons/new-year").get_data(as_text=True)


def test_the_school_year_is_set_by_the_branch_admin(client, ctx):
    token = staff_login(client, "quanly")
    r = client.post("/desk/patrons/school-year", data={"csrf_token": token,
                                                       "year_end": "31/08", "child_age": "12"},
                    follow_redirects=True)
    assert "Đã lưu năm học." in r.get_data(as_text=True)
    assert Library.get_by_id(ctx.library).school_year_end == "08-31"


def test_a_pupils_class_on_the_desks_patron_pages(client, ctx):
    token = staff_login(client)
    r = _upload(client, token, CL.xlsx(CL.pupils(1)))
    client.post(r.headers["Location"], data={"csrf_token": token, "consent": "1"})
    pupil = Patron.get(Patron.school_class == "6A")
    page = client.get(f"/desk/patrons/{pupil.card}").get_data(as_text=True)
    assert "lớp 6A" in page and "sinh ngày 01/01/2013" in page
    form = client.get(f"/desk/patrons/{pupil.card}/edit").get_data(as_text=True)
    assert 'name="school_class" value="6A"' in form
    r = client.post(f"/desk/patrons/{pupil.card}/edit", data={
        "csrf_token": token, "card": pupil.card, "name": pupil.name, "category": "child",
        "expiry": pupil.expiry, "birth_year": "2013", "guardian": pupil.guardian,
        "guardian_consent": "1", "phone": pupil.phone, "school_class": "6B",
        "birth_date": "2013-01-01"})
    assert r.status_code == 302
    assert Patron.get_by_id(pupil.id).school_class == "6B"
