"""The installed artefact is the tested artefact: the wheel `make image` and every signed
update install carries every runtime file, and a fresh non-editable install of it serves
the desk, the OPAC, the kiosk and SIP2 in Vietnamese."""

import re
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
import requests
from babel.messages.mofile import read_mo

from tests.conftest import free_port
from tests.factories import LIB
from tests.provisioning.served import Serving, run
from tests.sip2.client import SipClient

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "mật khẩu thử 2024"
MO = "appliance/translations/vi/LC_MESSAGES/messages.mo"


def _runtime_files():
    """Every file the running appliance reads from its own package, from the source tree."""
    web = ROOT / "appliance/web"
    found = {p for folder in ("templates", "static") for p in (web / folder).rglob("*")}
    found |= set((ROOT / "appliance/demo").iterdir())
    found |= set((ROOT / "appliance/core/common_passwords").iterdir())
    found |= set((ROOT / "devices").glob("fonts/*"))
    return {p.relative_to(ROOT).as_posix() for p in found if p.is_file()}


def test_wheel_carries_every_runtime_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    runtime = _runtime_files()
    assert "appliance/web/templates/kiosk/receipt.html" in runtime  # the list is not empty
    assert {"devices/fonts/DejaVuSans.ttf", "devices/fonts/DejaVuSans-Bold.ttf"} <= runtime
    assert {"appliance/core/common_passwords/common-passwords.txt.gz",
            "appliance/core/common_passwords/SOURCE.txt"} <= runtime
    assert runtime - names == set()
    # the catalogues compiled at build time, and no .po to compile at start
    assert MO in names and not [n for n in names if n.endswith(".po")]
    with zipfile.ZipFile(wheel) as zf:
        # a plural entry (ngettext) is keyed by its singular, with a list of forms
        catalogue = {m.id if isinstance(m.id, str) else m.id[0]: m.string
                     for m in read_mo(BytesIO(zf.read(MO)))}
    assert catalogue["Log in"] == "Đăng nhập"
    assert catalogue["Welcome! Scan your library card"].startswith("Chào mừng")  # kiosk.po
    assert catalogue["%(num)s record"] == ["%(num)s biểu ghi"]  # catalogue.po, a plural
    # the unit files the image installs from the wheel
    units = {p.name for p in (ROOT / "systemd").iterdir()}
    assert {n.rsplit("/", 1)[1] for n in names if n.startswith("provisioning/systemd/")} == units


@pytest.fixture(scope="session")
def fresh_install(wheel, tmp_path_factory):
    """A new virtual environment with the wheel installed, not editable, and its
    dependencies; nothing of the source tree on its path."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    result = subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q",
                             "--disable-pip-version-check", str(wheel)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    return venv


def _csrf(session, url):
    page = session.get(url, timeout=10)
    assert page.status_code == 200, (url, page.status_code, page.text[:500])
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _login(url, username):
    """A browser-like session logged in through the form; returns it and where it landed."""
    s = requests.Session()
    answer = s.post(f"{url}/login", data={"username": username, "password": PASSWORD,
                                          "csrf_token": _csrf(s, f"{url}/login")}, timeout=30)
    assert answer.status_code == 200 and answer.history, answer.text[:500]
    return s, answer


def _html(answer):
    assert answer.status_code == 200, (answer.url, answer.status_code, answer.text[:500])
    assert answer.headers["Content-Type"].startswith("text/html")
    assert '<html lang="vi"' in answer.text
    return answer.text


@pytest.mark.slow
def test_fresh_install_serves_every_area_in_vietnamese(fresh_install, tmp_path):
    thuvien, python = fresh_install / "bin/thuvien", fresh_install / "bin/python"
    elsewhere = tmp_path / "elsewhere"  # not the source tree: it cannot be imported
    elsewhere.mkdir()
    where = run(python, "-c", "import appliance.cli.core as c; print(c.__file__); "
                "print(c.DEMO_CSV)", cwd=elsewhere).split()
    site = next((fresh_install / "lib").glob("python3*/site-packages"))
    assert all(Path(p).is_relative_to(site) for p in where), where
    data = tmp_path / "data"
    run(thuvien, "init", "--data", data, "--library", LIB, "--name",
        "Thư viện phường Hòa Hiệp Trung", cwd=elsewhere)
    for user, role in (("thuthu", "librarian"), ("kiosk", "kiosk")):
        run(thuvien, "user", "add", "--data", data, user, "--role", role, "--password-stdin",
            stdin=PASSWORD + "\n", cwd=elsewhere)
    weak = subprocess.run([str(thuvien), "user", "add", "--data", str(data), "ngan", "--role",
                           "librarian", "--password-stdin"], input="1q2w3e4r5t\n", cwd=elsewhere,
                          capture_output=True, text=True, timeout=60)
    assert weak.returncode == 1 and "most common" in weak.stderr  # the list is installed
    run(thuvien, "import", "--data", data, "csv", where[1], "--quiet", cwd=elsewhere)
    _report_exports(thuvien, python, data, elsewhere)
    sip2_port = free_port()
    served = Serving(thuvien, data, elsewhere, sip2_port=sip2_port)
    try:
        _desk_and_opac(served.url)
        _kiosk_receipt(served.url)
        _sip2_in_vietnamese(sip2_port)
    finally:
        served.stop()


def _report_exports(thuvien, python, data, elsewhere):
    """A report as PDF (ReportLab with the wheel's font) and XLSX, from the installed
    wheel alone."""
    from datetime import date

    year = date.today().year
    for ending in ("pdf", "xlsx"):
        run(thuvien, "report", "statistics", "--data", data, "--from", f"{year - 1}-01-01",
            "--to", f"{year + 1}-12-31", "--out", elsewhere / f"r.{ending}", cwd=elsewhere)
    assert (elsewhere / "r.pdf").read_bytes().startswith(b"%PDF") and \
        b"DejaVu" in (elsewhere / "r.pdf").read_bytes()
    titles = run(python, "-c", "import openpyxl; print([r[1] for r in openpyxl.load_workbook("
                 "'r.xlsx').active.iter_rows(values_only=True) if r[0] == 'Lượt mượn'])",
                 cwd=elsewhere)  # the figures' names in Vietnamese: the catalogue is there
    assert titles.strip() == "[0]", titles


def _desk_and_opac(url):
    assert "Đăng nhập" in _html(requests.get(f"{url}/login", timeout=10))
    page = _html(requests.get(f"{url}/opac/", params={"q": "truyen kieu"}, timeout=30))
    assert "Tra cứu mục lục" in page and "Truyện Kiều" in page
    count = re.search(r'<p id="count">([^<]*)</p>', page).group(1)
    assert re.fullmatch(r"[1-9][0-9]* biểu ghi", count), count


def _kiosk_receipt(url):
    """A copy and a patron through the API, a loan at the kiosk, the receipt on screen."""
    token = requests.post(f"{url}/api/v1/session", json={"username": "thuthu",
                                                         "password": PASSWORD}, timeout=30)
    auth = {"Authorization": f"Bearer {token.json()['token']}"}
    hits = requests.get(f"{url}/api/v1/search", params={"q": "title:truyen kieu"},
                        timeout=10).json()
    bib_id = next(h["bib_id"] for h in hits["results"] if h["title"] == "Truyện Kiều")
    for path, body in (("items", {"bib_id": bib_id, "barcode": "100001"}),
                       ("patrons", {"card": "TV0001", "name": "Nguyễn Văn An", "pin": "2468",
                                    "category": "adult", "expiry": "2030-12-31"})):
        made = requests.post(f"{url}/api/v1/{path}", json=body, headers=auth, timeout=10)
        assert made.status_code == 201, made.text
    kiosk, start = _login(url, "kiosk")
    assert start.url == f"{url}/kiosk/"
    assert "Chào mừng bạn! Hãy quét thẻ thư viện" in _html(start)
    token = re.search(r'name="csrf_token" value="([^"]+)"', start.text).group(1)
    for path, form in (("identify", {"card": "TV0001"}), ("pin", {"pin": "2468"}),
                       ("checkout", {"barcode": "100001"})):  # a new library asks a PIN
        done = kiosk.post(f"{url}/kiosk/{path}", data={**form, "csrf_token": token}, timeout=30)
        assert done.status_code == 200 and done.url == f"{url}/kiosk/", done.text[:500]
    receipt = _html(kiosk.get(f"{url}/kiosk/receipt", timeout=10))
    assert "Biên lai của bạn" in receipt and "Nguyễn Văn An" in receipt
    assert re.search(r"Mượn: Truyện Kiều \(100001\) — hạn trả \d\d/\d\d/\d{4}", receipt), \
        receipt


def _sip2_in_vietnamese(port):
    """SIP2 reads the same compiled catalogue: a terminal that has not logged in is told
    so in Vietnamese."""
    client = SipClient("127.0.0.1", port)
    try:
        answer = client.patron_status(LIB, "TV0001")
    finally:
        client.close()
    assert answer.f("AF") == "Máy tự phục vụ chưa đăng nhập."
