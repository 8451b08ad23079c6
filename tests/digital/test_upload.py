"""The desk's resumable upload: a PDF sent in chunks over a real server; the link is
cut half-way through a chunk (the socket closed mid-body); the desk asks where the
upload stands, a chunk at the wrong offset is refused with where to go on, and the
rest is sent from there; the document made has the file's pages and its checksum."""

import hashlib
import socket
import time

import requests

from appliance.core.digital import documents, jobs
from appliance.web import create_app
from tests.conftest import Server, login_token, staff_login
from tests.digital import scans
from tests.digital.test_iiif_access import branch  # noqa: F401  (the fixture)

CHUNK = 8 * 1024


def _cut_put(srv, path, headers, data):
    """A PUT whose body stops half-way: the connection closes under it."""
    host, port = "127.0.0.1", srv.port
    head = [f"PUT {path} HTTP/1.1", f"Host: {host}:{port}",
            f"Content-Length: {len(data)}", "Content-Type: application/octet-stream",
            *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall("\r\n".join(head).encode() + data[:len(data) // 2])


def test_a_cut_upload_resumes(branch, tmp_path):  # noqa: F811
    images = [scans.page([f"Trang {n}", "Địa chí Phú Yên"]) for n in range(1, 4)]
    pdf = scans.save_pdf(tmp_path / "book.pdf", images)
    data = pdf.read_bytes()
    assert len(data) > 3 * CHUNK
    app = create_app(branch, testing=True)
    with Server(app) as srv:
        auth = login_token(srv.url)
        api = f"{srv.url}/api/v1/digital/uploads"
        r = requests.post(api, json={"filename": "book.pdf", "size": len(data)}, headers=auth,
                          timeout=10)
        assert r.status_code == 201
        upload = r.json()["id"]
        half = (len(data) // 2) // CHUNK * CHUNK
        for offset in range(0, half, CHUNK):
            r = requests.put(f"{api}/{upload}", params={"offset": offset}, headers=auth,
                             data=data[offset:offset + CHUNK], timeout=10)
            assert r.json()["received"] == offset + len(data[offset:offset + CHUNK])
        _cut_put(srv, f"/api/v1/digital/uploads/{upload}?offset={half}", auth,
                 data[half:half + CHUNK])
        held = requests.get(f"{api}/{upload}", headers=auth, timeout=10).json()["received"]
        assert held == half  # the cut chunk left nothing behind
        wrong = requests.put(f"{api}/{upload}", params={"offset": held + CHUNK},
                             data=data[held + CHUNK:held + 2 * CHUNK], headers=auth, timeout=10)
        assert wrong.status_code == 409 and str(held) in wrong.json()["error"]["message"]
        early = requests.post(f"{srv.url}/api/v1/digital/documents", headers=auth, timeout=10,
                              json={"bib_id": branch.bibs[3].id, "uploads": [upload]})
        assert early.status_code == 400 and "book.pdf" in early.json()["error"]["message"]
        for offset in range(held, len(data), CHUNK):
            r = requests.put(f"{api}/{upload}", params={"offset": offset}, headers=auth,
                             data=data[offset:offset + CHUNK], timeout=10)
            assert r.status_code == 200
        done = requests.post(f"{srv.url}/api/v1/digital/documents", headers=auth, timeout=10,
                             json={"bib_id": branch.bibs[3].id, "uploads": [upload],
                                   "access": "patrons"})
        assert done.status_code == 201, done.text
        doc = documents.get(done.json()["document"])
        rows = documents.page_list(doc.id)
        assert (doc.access, len(rows)) == ("patrons", 3)
        assert rows[0].sha256 == hashlib.sha256(data).hexdigest()
        # the desk's page for it, in Vietnamese
        client = app.test_client()
        staff_login(client)
        html = client.get(f"/desk/digital/{branch.bibs[3].id}").get_data(as_text=True)
        assert "du-files" in html and "3 trang" in html


def test_a_finished_upload_wakes_the_worker(branch, tmp_path):  # noqa: F811
    """The worker of `thuvien serve` looks at its queue now and then; a finished upload
    starts it at once, so the desk sees its pages made without waiting for the next look
    (here an hour away)."""
    pdf = scans.save_pdf(tmp_path / "one.pdf", [scans.page(["Trang 1", "Hương ước"])])
    data = pdf.read_bytes()
    app = create_app(branch, testing=True)
    worker = jobs.Worker(branch, interval=3600)
    app.extensions["digital_worker"] = worker
    worker.start()
    try:
        with Server(app) as srv:
            auth = login_token(srv.url)
            api = f"{srv.url}/api/v1/digital/uploads"
            upload = requests.post(api, json={"filename": "one.pdf", "size": len(data)},
                                   headers=auth, timeout=10).json()["id"]
            requests.put(f"{api}/{upload}", params={"offset": 0}, data=data, headers=auth,
                         timeout=10).raise_for_status()
            time.sleep(0.5)  # the worker has looked once and sleeps
            done = requests.post(f"{srv.url}/api/v1/digital/documents", headers=auth,
                                 timeout=10, json={"bib_id": branch.bibs[2].id,
                                                   "uploads": [upload]})
            assert done.status_code == 201, done.text
            deadline = time.monotonic() + 60
            while jobs.pending() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert jobs.pending() == 0
            (row,) = documents.page_list(done.json()["document"])
            assert documents.DigitalText.get_or_none(documents.DigitalText.page == row.id)
    finally:
        worker.stop()
        worker.join(10)
