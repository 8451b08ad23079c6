"""The desk's sync status line and "sync now" button, against a real hub process."""

import re
import time

from appliance.core import circulation, users
from appliance.web import create_app
from tests.sync.syncsupport import HubProcess, enrol_all, make_town, opened, seed


def test_status_line_and_sync_now(tmp_path, hub_db):
    hub_dir, branches, tokens = make_town(tmp_path, ("PY-DH01",), hub_db=hub_db)
    with HubProcess(hub_dir) as hub:
        enrol_all(hub.url, branches, tokens)
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
            failed = client.post("/desk/sync/now", data={"csrf_token": "t"},
                                 follow_redirects=True).text
            assert "Đồng bộ không thành công" in failed and 'id="sync-error"' in failed
