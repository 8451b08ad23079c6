"""Practice mode at the desk: the switch, the banner, the exercises, the real library
untouched; the records page with a certificate."""

import re

from appliance.core import verify
from appliance.core.models import Bib, Event, Item, Loan, Patron, TrainingCourse, TrainingExercise
from tests.conftest import csrf_token, staff_login

BANNER = "THỰC HÀNH — không phải dữ liệu thật"


def _enter(client, token):
    r = client.post("/training/practice/enter", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/desk/")


def test_full_practice_session_leaves_the_real_library_untouched(client, ctx):
    token = staff_login(client)
    real, log = verify.digest(), Event.select().count()
    assert BANNER not in client.get("/desk/").get_data(as_text=True)
    _enter(client, token)
    page = client.get("/desk/").get_data(as_text=True)
    assert BANNER in page
    token = csrf_token(client, "/desk/")
    r = client.post("/desk/checkout", data={"card": "P0001", "barcode": "1001",
                                            "csrf_token": token}, follow_redirects=True)
    assert BANNER in r.get_data(as_text=True)
    client.post("/desk/checkout", data={"card": "P0002", "barcode": "1002",
                                        "csrf_token": token})
    client.post("/desk/checkin", data={"barcode": "1001", "csrf_token": token})
    r = client.post("/desk/patrons/new", data={"card": "P0900", "name": "Lê Thị Thử",
                                               "category": "adult", "csrf_token": token})
    assert r.status_code == 302
    # the practice desk shows made-up people, never the real ones
    page = client.get("/desk/patrons/P0001").get_data(as_text=True)
    assert "Nguyễn Văn An" not in page and BANNER in page
    r = client.post("/desk/catalogue/new", data={
        "csrf_token": token, "title": "Sách tập làm thủ thư", "authors": "Nguyễn Thử",
        "language": "vie", "year": "2020", "isbn": ""})
    assert r.status_code == 302
    bib_id = r.headers["Location"].rsplit("/", 1)[1]
    r = client.post(f"/desk/catalogue/{bib_id}/copies", data={"csrf_token": token,
                                                               "count": "1"})
    assert r.status_code == 302
    # the real library, read by another request of the same process: nothing happened
    assert Loan.select().count() == 0 and Patron.select().count() == 4
    assert not Bib.select().where(Bib.title == "Sách tập làm thủ thư").exists()
    r = client.post("/training/practice/leave", data={"csrf_token": token})
    assert r.status_code == 302
    assert BANNER not in client.get("/desk/").get_data(as_text=True)
    assert verify.digest() == real and Event.select().count() == log
    assert Item.select().count() == 5


def test_banner_on_kiosk_pages(client, ctx):
    token = staff_login(client, "kiosk", landing="/kiosk/")
    client.post("/training/practice/enter", data={"csrf_token": token, "next": "/kiosk/"})
    assert BANNER in client.get("/kiosk/").get_data(as_text=True)


def test_exercise_done_from_practice_events_is_recorded(client, ctx):
    token = staff_login(client)
    _enter(client, token)
    token = csrf_token(client, "/training/")
    client.post("/training/exercises/checkout_return/start", data={"csrf_token": token})
    client.post("/desk/checkout", data={"card": "P0001", "barcode": "1003",
                                        "csrf_token": token})
    page = client.get("/training/").get_data(as_text=True)
    assert 'data-exercise="checkout_return" data-done="0"' in page
    assert not TrainingExercise.select().exists()
    client.post("/desk/checkin", data={"barcode": "1003", "csrf_token": token})
    page = client.get("/training/").get_data(as_text=True)
    assert 'data-exercise="checkout_return" data-done="1"' in page
    done = TrainingExercise.get()
    assert (done.staff, done.exercise, done.library) == ("thuthu", "checkout_return",
                                                         ctx.library)
    # the record is the real library's; the loan stayed in the copy
    assert Loan.select().count() == 0
    kinds = [e.kind for e in Event.select().order_by(Event.pos.desc()).limit(2)]
    assert set(kinds) <= {"training.exercise", "training.staff"}


def test_label_step_is_noted_in_practice(client, ctx):
    token = staff_login(client)
    _enter(client, token)
    token = csrf_token(client, "/training/")
    client.post("/training/exercises/catalogue_label/start", data={"csrf_token": token})
    r = client.post("/desk/catalogue/new", data={"csrf_token": token, "title": "Sách nhãn",
                                                 "language": "vie", "isbn": ""})
    bib_id = r.headers["Location"].rsplit("/", 1)[1]
    r = client.post(f"/desk/catalogue/{bib_id}/copies", data={"csrf_token": token})
    barcodes = re.findall(r"barcode=(\d+)", r.headers["Location"])
    page = client.get("/training/").get_data(as_text=True)
    assert 'data-exercise="catalogue_label" data-done="0"' in page
    assert client.get(f"/desk/catalogue/labels/print?barcode={barcodes[0]}").status_code == 200
    page = client.get("/training/").get_data(as_text=True)
    assert 'data-exercise="catalogue_label" data-done="1"' in page


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_course_with_certificate(client, ctx, data_dir):
    import io

    token = staff_login(client, "quanly", landing="/training/records")
    r = client.post("/training/records/courses", data={
        "csrf_token": token, "staff": "thuthu", "name": "Nghiệp vụ thư viện cơ bản",
        "organiser": "Thư viện tỉnh Phú Yên", "day": "2026-05-20", "hours": "40",
        "certificate": (io.BytesIO(PDF), "chung-nhan.pdf")},
        content_type="multipart/form-data")
    assert r.status_code == 302
    course = TrainingCourse.get()
    assert course.certificate["type"] == "application/pdf" and course.hours == 40
    assert (data_dir / "training/certificates" / f"{course.certificate['sha256']}.pdf").exists()
    page = client.get("/training/records").get_data(as_text=True)
    assert "Nghiệp vụ thư viện cơ bản" in page
    assert client.get(f"/training/records/courses/{course.id}/certificate").data == PDF
    r = client.post("/training/records/courses", data={
        "csrf_token": token, "staff": "thuthu", "name": "X", "organiser": "Y",
        "day": "2026-05-20", "hours": "4",
        "certificate": (io.BytesIO(b"MZ not a pdf"), "virus.exe")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "PDF" in r.get_data(as_text=True) and TrainingCourse.select().count() == 1
    # librarians do not enter records
    client.post("/logout", data={"csrf_token": token})
    staff_login(client)
    assert client.get("/training/records").status_code == 403


def test_semiannual_export_in_practice_completes_its_exercise(client, ctx):
    token = staff_login(client)
    _enter(client, token)
    token = csrf_token(client, "/training/")
    client.post("/training/exercises/semiannual/start", data={"csrf_token": token})
    assert client.get("/reports/statistics.csv?period=2026-05").status_code == 200
    page = client.get("/training/").get_data(as_text=True)
    assert 'data-exercise="semiannual" data-done="0"' in page
    r = client.get("/reports/statistics.csv?from=2026-01-01&to=2026-06-30")
    assert r.status_code == 200
    page = client.get("/training/").get_data(as_text=True)
    assert 'data-exercise="semiannual" data-done="1"' in page
