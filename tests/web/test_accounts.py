"""Accounts and sessions against someone who copies a cookie, guesses names and PINs, or
points the login at another site: over a real waitress server on loopback and through
the real `thuvien` command where the town's admins use it."""

import json
import re
import statistics
import subprocess
import sys
import threading
import time
from urllib.parse import quote, urlsplit

import pytest
import requests

from appliance.core import passwords, users
from appliance.core.errors import DomainError
from appliance.core.models import LoginThrottle
from tests.conftest import csrf_token, staff_login
from tests.factories import PASSWORD


def thuvien(*args, input=None):
    return subprocess.run([sys.executable, "-m", "appliance.cli", *args], capture_output=True,
                          text=True, input=input, timeout=120)


def form_login(url, username="thuthu", password=PASSWORD):
    s = requests.Session()
    page = s.get(f"{url}/login", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = s.post(f"{url}/login", data={"username": username, "password": password,
                                     "csrf_token": csrf}, timeout=10, allow_redirects=False)
    assert r.status_code == 302, r.text[:300]
    return s


def token_for(url, username="thuthu"):
    r = requests.post(f"{url}/api/v1/session", json={"username": username,
                                                     "password": PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def at_desk(session_or_cookies, url):
    r = requests.get(f"{url}/desk/", cookies=session_or_cookies, timeout=10,
                     allow_redirects=False)
    return r.status_code == 200


def api_ok(url, headers):
    return requests.get(f"{url}/api/v1/patrons/P0001", headers=headers,
                        timeout=10).status_code == 200


# Sessions and tokens are checked against the account on every request.

def test_logout_ends_the_session_and_a_replayed_cookie_with_it(server):
    s = form_login(server.url)
    copied = s.cookies.get_dict()  # what someone who saw the cookie keeps
    assert at_desk(copied, server.url)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"',
                     s.get(f"{server.url}/desk/", timeout=10).text).group(1)
    assert s.post(f"{server.url}/logout", data={"csrf_token": csrf}, timeout=10).ok
    assert not at_desk(copied, server.url)
    r = requests.get(f"{server.url}/desk/", cookies=copied, timeout=10, allow_redirects=False)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_disabling_an_account_ends_its_sessions_and_tokens_at_once(server, ctx):
    s, token = form_login(server.url), token_for(server.url)
    assert at_desk(s.cookies, server.url) and api_ok(server.url, token)
    r = thuvien("user", "disable", "thuthu", "--data", str(ctx.data_dir))
    assert r.returncode == 0, r.stderr
    assert not at_desk(s.cookies, server.url)
    assert requests.get(f"{server.url}/api/v1/patrons/P0001", headers=token,
                        timeout=10).status_code == 401
    r = requests.post(f"{server.url}/api/v1/session", timeout=10,
                      json={"username": "thuthu", "password": PASSWORD})
    assert r.status_code == 403
    assert thuvien("user", "enable", "thuthu", "--data", str(ctx.data_dir)).returncode == 0
    assert not at_desk(s.cookies, server.url)  # enabling again revives no old session
    assert not api_ok(server.url, token)
    assert at_desk(form_login(server.url).cookies, server.url)


def test_deleting_an_account_ends_its_sessions_and_tokens(server, ctx):
    s, token = form_login(server.url, "quanly"), token_for(server.url, "quanly")
    assert at_desk(s.cookies, server.url) and api_ok(server.url, token)
    r = thuvien("user", "delete", "quanly", "--data", str(ctx.data_dir))
    assert r.returncode == 0, r.stderr
    assert not at_desk(s.cookies, server.url) and not api_ok(server.url, token)
    r = thuvien("user", "disable", "nobody", "--data", str(ctx.data_dir))
    assert r.returncode == 1 and "nobody" in r.stderr


def test_a_role_changed_in_the_database_holds_for_sessions_already_open(server):
    from appliance.core.models import User
    s = form_login(server.url, "quanly")
    assert s.get(f"{server.url}/desk/", timeout=10, allow_redirects=False).status_code == 200
    User.update(role="report_viewer").where(User.username == "quanly").execute()
    assert s.get(f"{server.url}/desk/", timeout=10, allow_redirects=False).status_code == 403


def test_a_session_cookie_without_a_login_behind_it_is_nobody(client, app):
    # a cookie signed with the key but naming a user (what the old sessions were) gets in
    # nowhere: only a login the database holds does
    with client.session_transaction() as s:
        s.update(user="thuthu", role="hub_admin", login_at=int(time.time()))
    r = client.get("/desk/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    with client.session_transaction() as s:
        s["sid"] = "made-up"
    assert client.get("/desk/").status_code == 302


# next= never leaves the site.

TRICKS = ["/%09/evil.example/", "//evil.example/", "\\\\evil.example", "/\\evil.example",
          "/\\/evil.example", "https://evil.example/", "http:evil.example",
          "javascript:alert(1)", "%2F%2Fevil.example", "/%0a/evil.example", "/%0d/evil.example",
          " //evil.example", "/%E3%80%80/evil.example", "///evil.example", "\t//evil.example",
          "/%2F%2Fevil.example", "/%5Cevil.example"]


@pytest.mark.parametrize("trick", TRICKS)
def test_next_never_sends_the_browser_off_site(client, trick):
    token = csrf_token(client, "/login")
    # the query string as an attacker writes the link: already percent-encoded, or raw
    raw = trick if "%" in trick else quote(trick, safe="/:")
    r = client.post(f"/login?next={raw}", data={"username": "thuthu", "password": PASSWORD,
                                                "csrf_token": token})
    assert r.status_code == 302
    location = r.headers["Location"]
    # what a browser does with it: drops tabs and line breaks, reads \ as /
    seen = re.sub(r"[\t\n\r]", "", location).replace("\\", "/").strip()
    parts = urlsplit(seen)
    assert parts.netloc in ("", "localhost") and not seen.startswith("//"), location
    assert parts.scheme in ("", "http"), location


def test_next_within_the_site_is_kept(client):
    token = csrf_token(client, "/login")
    r = client.post("/login?next=%2Fdesk%2Fpatrons%3Fq%3DAn", data={
        "username": "thuthu", "password": PASSWORD, "csrf_token": token})
    assert r.headers["Location"] == "/desk/patrons?q=An"


# Guessing names and passwords.

def _try(client, username, password, addr):
    token = csrf_token(client, "/login")
    r = client.post("/login", data={"username": username, "password": password,
                                    "csrf_token": token},
                    environ_base={"REMOTE_ADDR": addr})
    return r.status_code, _flash(r.get_data(as_text=True))


def _flash(page):
    found = re.search(r'<p class="flash error"[^>]*>(.*?)</p>', page, re.S)
    return found.group(1).strip() if found else page


def test_failed_logins_slow_that_client_and_that_name_only(app):
    there, desk = app.test_client(), app.test_client()
    answers = [_try(there, "thuthu", "doan-mo-mat-khau", "10.0.0.66") for _ in range(5)]
    assert {code for code, _ in answers} == {401}
    assert all("Sai tên đăng nhập hoặc mật khẩu" in text for _, text in answers)
    code, text = _try(there, "thuthu", PASSWORD, "10.0.0.66")  # right, but must wait
    assert code == 401 and "giây" in text and "Sai tên" not in text
    # the owner at the desk is not locked out by someone else typing the name
    code, _ = _try(desk, "thuthu", PASSWORD, "10.0.0.2")
    assert code == 302


def test_unknown_names_answer_like_known_ones(app):
    known, unknown = app.test_client(), app.test_client()
    for n in range(6):
        a = _try(known, "thuthu", "doan-mo-mat-khau", "10.0.0.7")
        b = _try(unknown, "khongcoai", "doan-mo-mat-khau", "10.0.0.8")
        assert a == b, n  # the same status and words, the sixth time (a wait) too
    assert "giây" in a[1]


def test_unknown_names_take_as_long_as_known_ones(app, ctx, monkeypatch):
    """At the appliance's real scrypt cost: a name that does not exist is not answered
    faster than a wrong password for one that does."""
    monkeypatch.setattr(passwords, "cost", passwords.PRODUCTION_COST)
    users._dummy.cache_clear()
    users.create(ctx, "thuthu2", "mat-khau-rat-dai-2", "librarian")
    client = app.test_client()
    times = {"thuthu2": [], "khongcoai": []}
    for n in range(8):
        for name in times:
            LoginThrottle.delete().execute()  # time the check, not the wait
            start = time.perf_counter()
            _try(client, name, "sai-mat-khau-nay", f"10.1.0.{n}")
            times[name].append(time.perf_counter() - start)
    users._dummy.cache_clear()
    known, unknown = (statistics.median(t) for t in times.values())
    assert 0.5 < unknown / known < 2, times  # a name skipped unhashed would be 100 times faster


def test_the_wait_grows_and_is_forgotten_after_a_quiet_hour(ctx):
    key, now = "login|thuthu|10.0.0.9", 1_000_000.0
    waits = []
    for n in range(10):
        passwords.failed(key, now=now + n)
        waits.append(passwords.wait_left(key, now=now + n))
    assert waits[:4] == [0, 0, 0, 0]
    assert waits[4:8] == [30, 60, 120, 240]
    assert waits[-1] == passwords.MAX_WAIT
    later = now + 10 + passwords.MAX_WAIT + passwords.FORGET_AFTER + 1
    passwords.failed(key, now=later)
    assert passwords.wait_left(key, now=later) == 0  # counting starts again


def test_one_client_trying_many_names_waits_too(app):
    client = app.test_client()
    for n in range(passwords.CLIENT_FREE_FAILURES):
        assert _try(client, f"ten{n}", "doan-mo-mat-khau", "10.0.0.99")[0] == 401
    code, text = _try(client, "thuthu", PASSWORD, "10.0.0.99")
    assert code == 401 and "giây" in text


def test_a_caller_without_an_address_makes_no_one_else_wait(ctx):
    # SIP2 machines log in through the same check; one that keeps a wrong password slows
    # its own account name only
    for n in range(passwords.CLIENT_FREE_FAILURES + 2):
        with pytest.raises(DomainError):
            users.authenticate(ctx, f"may{n % 3}", "sai-mat-khau-nay")
    assert users.authenticate(ctx, "thuthu", PASSWORD).username == "thuthu"


def test_one_pin_sprayed_over_many_cards_meets_a_wait(client, ctx):
    from appliance.core import patrons
    for n in range(12):
        patrons.save(ctx, {"card": f"R{n:04d}", "name": f"Bạn đọc {n}", "category": "adult",
                           "pin": "4321", "expiry": "2030-12-31"})
    opac = client

    def sign_in(card, pin, addr="10.0.0.50"):
        return opac.post("/opac/login", data={"card": card, "pin": pin,
                                              "csrf_token": csrf_token(opac, "/opac/login")},
                         environ_base={"REMOTE_ADDR": addr})

    for n in range(passwords.PIN_CLIENT_FREE_FAILURES):
        assert sign_in(f"R{n:04d}", "0000").status_code == 401  # one wrong try per card
    r = sign_in("R0011", "4321")  # right card and PIN, but this client sprayed
    assert r.status_code == 401 and "giây" in r.get_data(as_text=True)
    assert sign_in("R0011", "4321", addr="10.0.0.51").status_code == 302  # another reader


def test_the_kiosk_pin_page_is_slowed_per_client_too(client, ctx):
    from tests.kiosk.conftest import login
    ctx.settings["kiosk_pin_required"] = True
    kiosk = login(client)

    def post(path, **data):
        data["csrf_token"] = csrf_token(kiosk, "/kiosk/")
        return kiosk.post(path, data=data, follow_redirects=True).get_data(as_text=True)

    cards = ["P0001", "P0002", "C0001", "S0001"]
    for n in range(passwords.PIN_CLIENT_FREE_FAILURES):
        post("/kiosk/identify", card=cards[n % 4])
        post("/kiosk/pin", pin=f"{n:04d}")  # never 1234, the cards' PIN
    post("/kiosk/identify", card="P0002")
    page = post("/kiosk/pin", pin="1234")
    assert 'data-mode="session"' not in page and "giây" in page


# Passwords.

@pytest.mark.parametrize("password, code", [
    ("ngan-qua", "weak_password"), ("123456789", "weak_password"),
    ("1234567890", "common_password"), ("qwertyuiop", "common_password"),
    ("Password123", "common_password"), ("thuthu-moi", None), ("newlibrarian", "common_password"),
])
def test_passwords_are_long_and_not_common(ctx, password, code):
    if code is None:
        users.create(ctx, "ngan", password, "librarian")
        return
    with pytest.raises(DomainError) as err:
        users.create(ctx, "newlibrarian", password, "librarian")
    assert err.value.code == code


def test_the_common_password_message_is_vietnamese(app, ctx):
    from appliance.web import i18n
    with pytest.raises(DomainError) as err:
        users.create(ctx, "ngan", "password1234", "librarian")
    with app.test_request_context("/", headers={"Accept-Language": "vi"}):
        said = i18n.translate(err.value)
    assert "phổ biến" in said and "mật khẩu khác" in said


def test_the_password_list_is_the_documented_one():
    common = passwords.common_passwords()
    assert len(common) > 19_500 and "password" in common and "1q2w3e4r5t" in common
    source = (passwords.COMMON_LIST.parent / "SOURCE.txt").read_text(encoding="utf-8")
    assert "Royce Williams" in source and "BSD" in source


# The kiosk asks a PIN unless the library says otherwise.

def test_a_new_library_asks_a_pin_at_the_kiosk(tmp_path):
    from appliance.core import datadir
    from appliance.web import create_app
    from tests.factories import seed
    ctx = datadir.init(tmp_path / "new", "PY-TH09", "Thư viện mới")
    seed(ctx)
    assert ctx.settings["kiosk_pin_required"] is True
    client = create_app(ctx, testing=True).test_client()
    staff_login(client, "kiosk", landing="/kiosk/")
    r = client.post("/kiosk/identify", data={"card": "P0001",
                                             "csrf_token": csrf_token(client, "/kiosk/")},
                    follow_redirects=True)
    page = r.get_data(as_text=True)
    assert 'data-mode="pin"' in page and "Nguyễn Văn An" not in page
    ctx.settings["kiosk_pin_required"] = False  # a children's kiosk, knowingly
    with client.session_transaction() as s:
        s.pop("kiosk_pending", None)
    r = client.post("/kiosk/identify", data={"card": "P0001",
                                             "csrf_token": csrf_token(client, "/kiosk/")},
                    follow_redirects=True)
    assert 'data-mode="session"' in r.get_data(as_text=True)
    ctx.close()


# The data folder is private from the start.

def test_init_makes_the_folder_and_its_secrets_private(tmp_path):
    data = tmp_path / "lib"
    r = subprocess.run(["sh", "-c", 'umask 022 && exec "$0" -m appliance.cli init --data "$1" '
                        '--library PY-TH03 --name "Thư viện"', sys.executable, str(data)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    mode = {p.name: p.stat().st_mode & 0o777 for p in [data, *data.iterdir()]}
    assert mode.pop("lib") == 0o700
    assert mode["settings.json"] == 0o600 and mode["thuvien.db"] == 0o600
    assert mode["device-token"] == 0o600
    assert all(m & 0o077 == 0 for m in mode.values()), mode  # -wal, -shm too
    r = thuvien("user", "add", "thuthu", "--role", "librarian", "--password-stdin",
                "--data", str(data), input="mot-mat-khau-dai\n")
    assert r.returncode == 0, r.stderr
    assert all(p.stat().st_mode & 0o077 == 0 for p in data.iterdir())


# A kiosk hears only its own station's devices.

def _listen(session, url, into, ready):
    with session.get(f"{url}/events/stream", stream=True, timeout=10) as r:
        assert r.status_code == 200
        ready.set()
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                into.append(json.loads(line[6:])["source"])


def test_a_kiosk_stream_carries_its_own_station_only(server, ctx):
    ctx.settings.update(event_stream_seconds=1.5, event_heartbeat_seconds=0.2,
                        kiosk_devices={"*": ["scanner:kiosk", "rfid:pad", "card:kiosk"]})
    kiosk, desk = form_login(server.url, "kiosk"), form_login(server.url)
    heard = {"kiosk": [], "desk": []}
    threads = []
    for name, session in (("kiosk", kiosk), ("desk", desk)):
        ready = threading.Event()
        threads.append(threading.Thread(target=_listen, args=(session, server.url,
                                                              heard[name], ready)))
        threads[-1].start()
        assert ready.wait(5)
    token = (ctx.data_dir / "device-token").read_text().strip()
    for source, body in (("card:desk", {"type": "card", "action": "inserted",
                                        "data": {"uid": "04A1B2C3"}}),
                         ("scanner:desk", {"type": "barcode", "action": "scan",
                                           "data": {"code": "P0001"}}),
                         ("rfid:pad", {"type": "rfid", "action": "present",
                                       "data": {"tags": [{"uid": "E004"}]}})):
        r = requests.post(f"{server.url}/api/v1/device-events", json={"source": source, **body},
                          headers={"X-Thuvien-Device-Token": token}, timeout=5)
        assert r.status_code == 202
    for t in threads:
        t.join(10)
    assert heard["kiosk"] == ["rfid:pad"]  # never the desk's card reader or scanner
    assert heard["desk"] == ["card:desk", "scanner:desk", "rfid:pad"]


def test_each_kiosk_account_may_name_its_own_devices(ctx):
    from appliance.web.device_events import DEFAULT_KIOSK_DEVICES, kiosk_sources
    settings = {"kiosk_devices": {"kiosk2": ["rfid:pad2"], "*": ["rfid:pad"]}}
    assert kiosk_sources(settings, "kiosk2") == {"rfid:pad2"}
    assert kiosk_sources(settings, "kiosk") == {"rfid:pad"}
    assert kiosk_sources({}, "kiosk") == set(DEFAULT_KIOSK_DEVICES)
