"""Publishing the devices' configuration on the hub's fleet page, in real Chromium: a
wrong one is said in Vietnamese and stays in the form to be corrected; the right one is
published and listed."""

from appliance.core import datadir, users
from tests.provisioning.hubproc import Served

PASSWORD = "mat-khau-dai-du-12"


def test_an_admin_corrects_and_publishes_a_configuration(tmp_path, page):
    hub_dir = tmp_path / "hub"
    ctx = datadir.init(hub_dir, "PY-HUB", "Thư viện thị xã Đông Hòa", role="hub")
    users.create(ctx, "admin", PASSWORD, "hub_admin")
    ctx.close()
    served = Served(hub_dir)
    try:
        page.goto(f"{served.url}/login")
        page.fill("#username", "admin")
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.press("#password", "Enter")
        page.goto(f"{served.url}/hub/fleet")
        typed = '{"update_window": "10pm-5am"}'
        page.fill("#config-library", "PY-DH01")
        page.fill("#config-body", typed)
        with page.expect_navigation():
            page.click("#config-form button[type=submit]")
        assert "HH:MM-HH:MM" in page.inner_text(".flash.error")
        assert page.input_value("#config-body") == typed  # given back to be corrected
        assert page.input_value("#config-library") == "PY-DH01"
        assert page.locator("#configs tr[data-version]").count() == 0
        page.screenshot(path=str(tmp_path / "config-refused.png"), full_page=True)

        page.fill("#config-body", '{"update_window": "22:00-05:00"}')
        with page.expect_navigation():
            page.click("#config-form button[type=submit]")
        assert "Đã ban hành cấu hình số 1" in page.inner_text(".flash")
        row = page.locator('#configs tr[data-version="1"]')
        assert "PY-DH01" in row.inner_text() and "22:00-05:00" in row.inner_text()
        assert "mọi thiết bị" in row.inner_text()
        assert page.input_value("#config-body") == ""  # a new form for the next one
        page.screenshot(path=str(tmp_path / "config-published.png"), full_page=True)
    finally:
        served.stop()
