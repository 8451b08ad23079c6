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
