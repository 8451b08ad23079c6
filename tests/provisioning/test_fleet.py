"""The hub's fleet page: health columns, filters, roles, revoke, re-enrol with a QR token."""

import base64
import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image

import sync.hub  # noqa: F401  (sync's tables)
from appliance.core import datadir, users
from appliance.web import create_app
from provisioning import bundle, health
from sync.models import Device, EnrolToken
from tests.conftest import unavailable
from tests.sync.syncsupport import hub_db_fixture  # noqa: F401  (the hub_db fixture)

PASSWORD = "mat-khau-dai-du-12"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _seen(days):
    return bundle.iso(NOW - timedelta(days=days))


@pytest.fixture
def hub(tmp_path, hub_db):
    ctx = datadir.init(tmp_path / "hub", "PY-HUB", "Thư viện thị xã", role="hub",
                       database=hub_db)
    for name, role in [("admin", "hub_admin"), ("viewer", "report_viewer"),
                       ("thuthu", "librarian")]:
        users.create(ctx, name, PASSWORD, role)
    app = create_app(ctx, testing=True)  # makes the registry tables on an open database
    for dev, lib, seen, version in [("py-dh01-aaaa", "PY-DH01", 0.1, "0.2.0"),
                                    ("py-hh02-bbbb", "PY-HH02", 9, "0.1.0"),
                                    ("py-hv03-cccc", "PY-HV03", None, None)]:
        Device.create(id=dev, library=lib, sign_key="k" * 43, box_key="k" * 43,
                      enrolled_at=_seen(30), last_seen=_seen(seen) if seen else None,
                      last_error="hub unreachable" if dev.startswith("py-hh02") else None)
        if version:
            health.record(dev, {"version": version, "pending_events": 12,
                                "disk_free": 5_300_000_000, "config_version": 2,
                                "clock": bundle.iso(NOW - timedelta(seconds=40))}, now=NOW)
    yield ctx, app.test_client()
    ctx.close()


def _login(client, username):
    r = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def _devices(html):
    return re.findall(r'data-device="([^"]+)"', html)


def test_fleet_lists_every_device_with_health(hub):
    _, client = hub
    r = client.get("/hub/fleet", headers=_login(client, "viewer"))
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert _devices(html) == ["py-dh01-aaaa", "py-hh02-bbbb", "py-hv03-cccc"]
    assert "Thiết bị" in html  # Vietnamese first
    row = html[html.index('data-device="py-hh02-bbbb"'):]
    row = row[:row.index("</tr>")]
    for text in ["0.1.0", "12", "5.3 GB", "-40 s", "hub unreachable", "30"]:
        assert text in row, text
    assert "behind" in row


def test_filters_silent_and_behind(hub):
    _, client = hub
    auth = _login(client, "viewer")
    silent = client.get("/hub/fleet?silent=7", headers=auth).get_data(as_text=True)
    assert _devices(silent) == ["py-hh02-bbbb", "py-hv03-cccc"]  # never seen counts too
    behind = client.get("/hub/fleet?behind=1", headers=auth).get_data(as_text=True)
    assert _devices(behind) == ["py-hh02-bbbb"]
    bad = client.get("/hub/fleet?silent=abc", headers=auth)
    assert bad.status_code == 200 and len(_devices(bad.get_data(as_text=True))) == 3


def test_roles(hub, tmp_path):
    _, client = hub
    assert client.get("/hub/fleet").status_code in (302, 401)
    assert client.get("/hub/fleet", headers=_login(client, "thuthu")).status_code == 403
    viewer = _login(client, "viewer")
    assert client.post("/hub/fleet/py-dh01-aaaa/revoke", headers=viewer).status_code == 403
    assert Device.get_by_id("py-dh01-aaaa").status == "active"


def test_revoke_and_reenrol(hub):
    ctx, client = hub
    admin = _login(client, "admin")
    r = client.post("/hub/fleet/py-dh01-aaaa/revoke", headers=admin)
    assert r.status_code == 302
    assert Device.get_by_id("py-dh01-aaaa").status == "revoked"
    r = client.post("/hub/fleet/tokens", data={"reenrol": "py-hh02-bbbb"}, headers=admin)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert Device.get_by_id("py-hh02-bbbb").status == "revoked"
    token = re.search(r'<code id="token">([^<]+)</code>', html).group(1)
    assert EnrolToken.select().where(EnrolToken.library == "PY-HH02",
                                     EnrolToken.used_by.is_null()).count() == 1
    png = re.search(r'data:image/png;base64,([^"]+)"', html).group(1)
    try:
        from pyzbar.pyzbar import decode
    except (ImportError, OSError):
        unavailable("zbar is missing")
    decoded = json.loads(decode(Image.open(io.BytesIO(base64.b64decode(png))))[0].data)
    assert decoded["token"] == token and decoded["library"] == "PY-HH02"
    assert decoded["hub"].startswith("http://")


def test_bad_library_code_gets_a_message_and_no_token(hub):
    _, client = hub
    r = client.post("/hub/fleet/tokens", data={"library": "not a code!"},
                    headers=_login(client, "admin"), follow_redirects=True)
    assert r.status_code == 200 and EnrolToken.select().count() == 0
    assert "library code" in r.get_data(as_text=True).lower() or \
        "mã thư viện" in r.get_data(as_text=True).lower()


def test_branch_has_no_fleet_page(tmp_path):
    ctx = datadir.init(tmp_path / "branch", "PY-DH01", "Thư viện phường")
    users.create(ctx, "quanly", PASSWORD, "hub_admin")
    client = create_app(ctx, testing=True).test_client()
    assert client.get("/hub/fleet", headers=_login(client, "quanly")).status_code == 404
    ctx.close()


def test_approve_a_pending_device(hub):
    _, client = hub
    Device.create(id="py-dh01-new1", library="PY-DH01", sign_key="k" * 43, box_key="k" * 43,
                  enrolled_at=_seen(0), status="pending")
    admin = _login(client, "admin")
    html = client.get("/hub/fleet", headers=admin).get_data(as_text=True)
    row = html[html.index('data-device="py-dh01-new1"'):]
    row = row[:row.index("</tr>")]
    assert "chờ duyệt" in row and "/hub/fleet/py-dh01-new1/approve" in row
    other = html[html.index('data-device="py-dh01-aaaa"'):]
    assert "/approve" not in other[:other.index("</tr>")]
    viewer = _login(client, "viewer")
    assert client.post("/hub/fleet/py-dh01-new1/approve", headers=viewer).status_code == 403
    assert Device.get_by_id("py-dh01-new1").status == "pending"
    r = client.post("/hub/fleet/py-dh01-new1/approve", headers=admin, follow_redirects=True)
    assert r.status_code == 200 and "Đã duyệt thiết bị py-dh01-new1" in r.get_data(as_text=True)
    assert Device.get_by_id("py-dh01-new1").status == "active"
    again = client.post("/hub/fleet/py-dh01-new1/approve", headers=admin, follow_redirects=True)
    assert "không ở trạng thái chờ duyệt" in again.get_data(as_text=True)
    client.post("/hub/fleet/py-dh01-aaaa/revoke", headers=admin)
    client.post("/hub/fleet/py-dh01-aaaa/approve", headers=admin)
    assert Device.get_by_id("py-dh01-aaaa").status == "revoked"  # revoked stays revoked


# --- the devices' configuration, published from the fleet page -----------------------------

def _configs(html):
    return re.findall(r'<tr data-version="(\d+)">', html)


def test_an_admin_publishes_a_librarys_configuration_and_its_device_gets_it(hub):
    from provisioning import config

    ctx, client = hub
    admin = _login(client, "admin")
    body = {"update_window": "22:00-05:00", "kiosk": {"idle_seconds": 45}}
    r = client.post("/hub/fleet/config", headers=admin, follow_redirects=True,
                    data={"library": "py-dh01", "device": "", "body": json.dumps(body)})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and _configs(html) == ["1"]
    assert "Đã ban hành cấu hình số 1" in html and "22:00-05:00" in html
    row = html[html.index('<tr data-version="1">'):]
    assert "PY-DH01" in row[:row.index("</tr>")] and "mọi thiết bị" in row[:row.index("</tr>")]
    # the library's device gets it with its next sync's answer, another library's does not
    assert config.effective("PY-DH01", "py-dh01-aaaa") == (1, body)
    assert config.effective("PY-HH02", "py-hh02-bbbb") == (0, {})
    signed = config.bundle_for(ctx, "PY-DH01", "py-dh01-aaaa", have=0)
    assert signed["payload"]["body"] == body and signed["payload"]["scope"]["device"] == \
        "py-dh01-aaaa"


@pytest.mark.parametrize("form, words", [
    ({"body": '{"update_window": "22:00-05:00",}'}, "không phải JSON hợp lệ"),
    ({"body": '["update_window"]'}, "Cấu hình phải là một đối tượng JSON"),
    ({"body": '{"database": "postgresql://elsewhere/db"}'}, "database"),
    ({"body": '{"update_window": "10pm-5am"}'}, "HH:MM-HH:MM"),
    ({"device": "py-zz99-dddd", "body": "{}"}, "py-zz99-dddd"),
    ({"library": "PY-HH02", "device": "py-dh01-aaaa", "body": "{}"}, "PY-DH01"),
    ({"library": "not a code!", "body": "{}"}, "Mã thư viện"),
])
def test_a_wrong_configuration_is_said_kept_as_typed_and_never_published(hub, form, words):
    from provisioning.config import PublishedConfig

    _, client = hub
    r = client.post("/hub/fleet/config", headers=_login(client, "admin"),
                    data={"library": "", "device": "", **form})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and words in html, html[:3000]
    assert PublishedConfig.select().count() == 0
    # what was typed comes back to be corrected, escaped
    typed = form["body"].replace("&", "&amp;").replace('"', "&#34;").replace("<", "&lt;")
    assert typed in html or form["body"].replace('"', "&#34;") in html


def test_viewers_see_the_configuration_and_cannot_publish(hub):
    from provisioning import config

    ctx, client = hub
    config.publish(ctx, {"kiosk": {"idle_seconds": 90}})
    viewer = _login(client, "viewer")
    html = client.get("/hub/fleet", headers=viewer).get_data(as_text=True)
    assert _configs(html) == ["1"] and 'id="config-form"' not in html
    assert "mọi thư viện" in html and "idle_seconds" in html
    r = client.post("/hub/fleet/config", headers=viewer, data={"body": "{}"})
    assert r.status_code == 403 and len(config.published()) == 1


def test_the_fleet_shows_an_update_waiting_for_a_devices_window(hub, tmp_path):
    """The device names in its health report the newest update kept for its window; the
    fleet page says it beside the version, so staff know why the device is behind."""
    from provisioning import window

    branch = tmp_path / "branch"  # its data folder (a database of its own: see below)
    waiting = branch / window.WAITING
    waiting.mkdir(parents=True)
    for name in ("thuvien-0.3.9.tvu", "thuvien-0.4.0.tvu", "thuvien-x.tvu", "notes.txt"):
        (waiting / name).write_bytes(b"kept")
    assert health.waiting_version(branch) == "0.4.0"
    assert health.waiting_version(tmp_path / "nowhere") is None
    ctx, client = hub
    report = {"version": "0.1.0", "update_waiting": health.waiting_version(branch),
              "clock": bundle.iso(NOW)}
    health.record("py-hh02-bbbb", report, now=NOW)
    health.record("py-dh01-aaaa", {"version": "0.2.0", "update_waiting": ["not", "text"]},
                  now=NOW)  # a malformed field is dropped, never trusted
    html = client.get("/hub/fleet", headers=_login(client, "viewer")).get_data(as_text=True)
    row = html[html.index('data-device="py-hh02-bbbb"'):]
    assert "0.4.0 chờ khung giờ cập nhật" in row[:row.index("</tr>")]
    row = html[html.index('data-device="py-dh01-aaaa"'):]
    assert "chờ khung giờ" not in row[:row.index("</tr>")]


def test_a_device_reports_the_update_kept_for_its_window(tmp_path):
    from provisioning import window

    ctx = datadir.init(tmp_path / "branch", "PY-HH02", "Thư viện phường Hòa Hiệp")
    try:
        assert health.report(ctx)["update_waiting"] is None
        (ctx.data_dir / window.WAITING).mkdir(parents=True)
        (ctx.data_dir / window.WAITING / "thuvien-0.4.0.tvu").write_bytes(b"kept")
        assert health.report(ctx)["update_waiting"] == "0.4.0"
    finally:
        ctx.close()
