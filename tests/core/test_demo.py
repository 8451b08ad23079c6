"""`thuvien demo` as a newcomer runs it: it says where the desk is, who to log in as and
which copies to scan, and what it prints works on the server it starts."""

import re
import subprocess
import sys
from pathlib import Path

import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_the_desk_accounts_and_copies_and_they_work(tmp_path):
    data, port = tmp_path / "demo-data", free_port()
    proc = subprocess.Popen([sys.executable, "-m", "appliance.cli", "demo", "--data", str(data),
                             "--port", str(port), "--sip2-port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out = []
        for line in proc.stdout:
            out.append(line)
            if line.startswith("serving:"):
                break
        text = "".join(out)
        assert proc.poll() is None, text
        desk = f"http://127.0.0.1:{port}/desk/"
        password = re.search(r"^\s*thuthu\s+librarian\s+(\S+)\s+(\S+)$", text, re.M)
        assert password and password.group(2) == desk, text
        assert f"open {desk}" in text
        shelf = re.search(r"copies on the shelf to lend: (.+)", text).group(1).split(", ")
        lent = re.findall(r"(\d+) \((TV\d+)\)", re.search(r"copies on loan to return: (.+)",
                                                           text).group(1))
        assert len(shelf) >= 3 and lent and "start afresh" in text
        with requests.Session() as web:
            page = web.get(desk, timeout=10)
            assert page.url.endswith("/login") or "/login" in page.url
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            web.post(f"http://127.0.0.1:{port}/login", timeout=10, data={
                "username": "thuthu", "password": password.group(1), "csrf_token": token})
            assert web.get(desk, timeout=10).url == desk
            copy = web.get(f"{desk}items/{shelf[0]}", timeout=10)
            assert copy.status_code == 200 and "Trên giá" in copy.text
            barcode, card = lent[0]
            assert card in web.get(f"{desk}items/{barcode}", timeout=10).text
    finally:
        proc.terminate()
        proc.wait(20)


def test_make_demo_takes_a_port():
    r = subprocess.run(["make", "-n", "-C", str(ROOT), "demo", "PORT=8123"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "thuvien demo --host 127.0.0.1 --port 8123" in r.stdout
