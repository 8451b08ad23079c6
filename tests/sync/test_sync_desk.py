"""The desk's sync status line and "sync now" button, against a real hub process."""

import re
import threading
import time

import pytest

from appliance.core import circulation, users
from appliance.web import create_app
from sync import agent
from sync import hub as desk_sync
from tests.conftest import PASSWORD, Server, staff_login
from tests.sync.syncsupport import opened, running_town, seed


def settled(client, timeout=60):
    """The status line once no run is under way (what sync.js puts in place)."""
    ends = time.monotonic() + timeout
    while True:
        line = client.get("/desk/sync/status").text
        if "data-poll" not in line or time.monotonic() > ends:
            return line
        time.sleep(0.2)


def test_status_line_and_sync_now(tmp_path, hub_db):
    with running_town(tmp_path, ("PY-DH01",), hub_db=hub_db, admin=None) as town:
        branches, hub = town.branches, town.hub
        with opened(branches["PY-DH01"]) as ctx:
            cards, codes = seed(ctx, n_items=2, n_patrons=1)
            circulation.checkout(ctx, cards[0], codes[0])
            users.create(ctx, "thuthu", "mat-khau-thu-vien", "librarian")
            client = create_app(ctx, testing=True).test_client()
            page = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            client.post("/login", data={"username": "thuthu", "password": "mat-khau-thu-vien",
                                        **({"csrf_token": token.group(1)} if token else {})})
            home = client.get("/desk/").text
            assert "Đồng bộ ngay" in home and "Chưa đồng bộ lần nào." in home
            pending = re.search(r'id="sync-pending">(\d+) thay đổi', home).group(1)
            assert int(pending) > 0
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', home).group(1)
            done = client.post("/desk/sync/now", data={"csrf_token": csrf},
                               follow_redirects=True).text
            if 'id="sync-running"' in done:  # slower than QUICK on a busy machine
                done = settled(client)
            assert "Đã đồng bộ: gửi" in done
            assert 'id="sync-pending">0 thay đổi' in done and "Đồng bộ lần cuối" in done
            refused = client.post("/desk/sync/now", data={}, follow_redirects=True)
            assert refused.status_code == 400  # no CSRF token, no sync
        hub.stop()
        with opened(branches["PY-DH01"]) as ctx:
            client = create_app(ctx, testing=True).test_client()
            with client.session_transaction() as s:
                s.update(user="thuthu", role="librarian", csrf="t", login_at=time.time(),
                         sid=users.open_login("thuthu", "session", 3600))
            # The hub is away: the run tries again with its back-off for seconds, in the
            # background; the desk answers at once that it is under way.
            asked = time.monotonic()
            under_way = client.post("/desk/sync/now", data={"csrf_token": "t"},
                                    follow_redirects=True).text
            assert time.monotonic() - asked < desk_sync.QUICK + 2
            assert 'id="sync-running"' in under_way and "Đang đồng bộ với máy chủ" in under_way
            assert re.search(r'id="sync-now" disabled', under_way)
            assert 'data-poll="/desk/sync/status"' in under_way and "sync.js" in under_way
            runs = client.application.extensions[desk_sync.RUNS]
            first = runs.current
            client.post("/desk/sync/now", data={"csrf_token": "t"})  # joins it: one at a time
            assert runs.current is first and not first.done.is_set()
            failed = settled(client)
            assert first.done.is_set()
            assert re.search(r'id="sync-result" class="flash error" role="alert">'
                             r'Đồng bộ không thành công', failed)
            assert 'id="sync-error"' in failed and "disabled" not in failed
            assert 'id="sync-result"' not in client.get("/desk/").text  # said once


@pytest.mark.browser
def test_a_slow_sync_runs_in_the_background_on_the_pis_screen(tmp_path, page, monkeypatch):
    """In Chromium at 800x480: with the hub away, "Sync now" answers at once that the run
    is under way (a progress bar, the button off, nothing scrolls sideways); the librarian
    types a card meanwhile; the run's failure then shows on the status line in place, the
    card still typed (the page was not reloaded)."""
    from tests.web.test_browser_phone import wide_by
    from tests.web.test_browser_scan import login

    monkeypatch.setattr(desk_sync, "QUICK", 0)  # no run is waited for
    monkeypatch.setattr(agent, "RETRIES", 2)  # it fails after two back-offs (~1.5 s)
    with running_town(tmp_path, ("PY-DH01",), admin=None) as town:
        branches = town.branches
    with opened(branches["PY-DH01"]) as ctx:
        users.create(ctx, "thuthu", PASSWORD, "librarian")
        with Server(create_app(ctx, testing=True)) as desk:
            page.set_viewport_size({"width": 800, "height": 480})
            login(page, desk)
            page.click("#sync-now")
            running = page.locator("#sync-running")
            assert "Đang đồng bộ với máy chủ" in running.inner_text()
            assert running.get_attribute("role") == "status"
            assert page.locator("#sync-running progress").get_attribute("aria-label") == \
                "Đang đồng bộ"
            assert page.locator("#sync-now").is_disabled()
            box = running.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 800 and wide_by(page) == 0
            page.fill("#card", "P0001")
            result = page.locator("#sync-result")
            result.wait_for(timeout=30000)
            assert result.inner_text().startswith("Đồng bộ không thành công")
            assert result.get_attribute("role") == "alert"
            assert page.locator("#sync-now").is_enabled()
            assert page.input_value("#card") == "P0001" and wide_by(page) == 0


def test_a_run_that_ends_while_the_line_is_read_shows_its_error_or_is_still_running(
        ctx, client, monkeypatch):
    """The status line reads the sync state, whether a run is under way, and its result.
    A run that records its error and ends between those reads must not give a line that
    says the run failed but shows no error (the state read before the run wrote it)."""
    from sync import deskrun, models, protocol, status

    ctx.settings["sync"] = {"hub_id": "HUB", "hub_url": "http://127.0.0.1:9"}
    csrf = staff_login(client)
    begin, reading = threading.Event(), threading.Event()

    def work():
        begin.wait(10)
        models.set_state(last_error="unreachable: the hub did not answer")
        raise protocol.SyncError("unreachable", "the hub did not answer")

    runs = client.application.extensions[desk_sync.RUNS] = deskrun.DeskRuns(work)
    monkeypatch.setattr(desk_sync, "QUICK", 0)
    client.post("/desk/sync/now", data={"csrf_token": csrf})
    run = runs.current
    read = status.summary

    def summary_then_the_run_ends(c):
        out = read(c)
        if not reading.is_set():  # the first read of the line only
            reading.set()
            begin.set()
            assert run.done.wait(10)
        return out

    monkeypatch.setattr(status, "summary", summary_then_the_run_ends)
    line = client.get("/desk/sync/status").text
    if "data-poll" not in line:
        assert 'id="sync-result"' in line and 'id="sync-error"' in line, line
    line = client.get("/desk/sync/status").text
    assert "data-poll" not in line and 'id="sync-result"' in line
    assert 'id="sync-error"' in line
