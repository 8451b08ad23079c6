"""Sync and provisioning together, on loopback against a real hub process: health for the
fleet page, config bundles on sync, staff approval, device key rotation."""

import re
import time

import pytest
import requests

import appliance
from appliance.core import circulation, events, users
from appliance.core.context import Context
from appliance.web import create_app
from provisioning import config
from sync import agent, enrol, keys, protocol, status
from sync.models import Device, RetiredKey, SyncRefusal
from tests.conftest import PASSWORD
from tests.sync.syncsupport import (
    HubProcess,
    enrol_all,
    make_town,
    opened,
    running_town,
    seed,
)

LIB = "PY-DH01"


def _admin(hub_dir):
    with opened(hub_dir) as ctx:
        users.create(ctx, "admin", PASSWORD, "hub_admin")


def _session(url):
    """A hub admin's browser-like session: logged in through the login form (CSRF)."""
    s = requests.Session()
    page = s.get(url + "/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    r = s.post(url + "/login", data={"username": "admin", "password": PASSWORD,
                                     **({"csrf_token": token.group(1)} if token else {})},
               timeout=10)
    assert r.ok, r.text
    return s


def _row(html, device):
    m = re.search(r'<tr data-device="%s".*?</tr>' % re.escape(device), html, re.S)
    assert m, html
    return m.group(0)


@pytest.fixture
def town(hub_db, tmp_path):
    with running_town(tmp_path, (LIB,), hub_db, admin="admin") as town:
        yield town.hub, town.hub_dir, town.branches[LIB]


def test_health_reaches_the_fleet_page(town):
    hub, hub_dir, branch = town
    with opened(branch) as ctx:
        cards, codes = seed(ctx, n_items=3, n_patrons=1)
        circulation.checkout(ctx, cards[0], codes[0])
        device = ctx.origin
        agent.run_once(ctx, batch=5)  # several rounds; the last report stands
        circulation.checkout(ctx, cards[0], codes[1])  # one event made after the sync
    html = _session(hub.url).get(hub.url + "/hub/fleet", timeout=10).text
    row = _row(html, device)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert cells[0] == LIB and appliance.__version__ in cells[2]
    assert cells[4] == "0"  # nothing left to send once the hub held the last batch
    assert re.fullmatch(r"\d+\.\d GB", cells[6])  # disk free, as the branch measured it
    assert re.fullmatch(r"[+-]\d+ s", cells[7])  # clock offset against the hub
    with opened(branch) as ctx:
        agent.run_once(ctx)
    with opened(hub_dir) as ctx:
        from provisioning.health import DeviceHealth

        row = DeviceHealth.get_by_id(device)
        assert row.pending_events == 0 and abs(row.clock_offset) < 30
        assert row.version == appliance.__version__ and row.disk_free > 0
        assert events.head(device)[0] > 0


def hub_ctx(hub_dir):
    return Context.open(hub_dir)


def test_config_from_the_hub_arrives_with_sync_and_takes_effect(tmp_path, hub_db):
    hub_dir, branches, tokens = make_town(tmp_path, (LIB,), hub_db=hub_db)
    with opened(hub_dir) as h:
        config.publish(h, {"kiosk": {"idle_seconds": 90}, "sync_schedule": {"minutes": 15}})
    with HubProcess(hub_dir) as hub:
        enrol_all(hub.url, branches, tokens)  # the enrolment answer carries the bundle
        web = Context.open(branches[LIB])  # as the web process holds it, opened once
        try:
            assert web.settings["kiosk"] == {"idle_seconds": 90}
            assert web.settings["config_version"] == 1
            with opened(hub_dir) as h:
                config.publish(h, {"kiosk": {"idle_seconds": 45}}, library=LIB)
            with opened(branches[LIB]) as ctx:
                cards, codes = seed(ctx, n_items=1, n_patrons=1)
                assert agent.run_once(ctx)["pushed"] > 0
                assert status.summary(ctx)["config_error"] is None
            assert web.settings["kiosk"] == {"idle_seconds": 45}  # no restart, no step
            assert web.settings["config_version"] == 2
            assert web.settings["sync_schedule"] == {"minutes": 15}

            # a hub that retires its own key by mistake: later bundles are refused,
            # the refusal is shown, and loans keep flowing
            hub_key = keys.b64(keys.load(hub_dir).sign_public)
            with opened(hub_dir) as h:
                config.publish(h, {"hub_keys": [{"key": hub_key,
                                                 "not_after": "2001-01-01T00:00:00Z"}]})
            with opened(branches[LIB]) as ctx:
                agent.run_once(ctx)
            assert web.settings["config_version"] == 3
            with opened(hub_dir) as h:
                config.publish(h, {"kiosk": {"idle_seconds": 10}})
            before = (branches[LIB] / "settings.json").read_bytes()
            with opened(branches[LIB]) as ctx:
                circulation.checkout(ctx, cards[0], codes[0])
                assert agent.run_once(ctx)["pushed"] == 1
                summary = status.summary(ctx)
            assert summary["config_error"].startswith("bundle_key_retired")
            assert summary["last_error"] is None and summary["pending"] == 0
            assert (branches[LIB] / "settings.json").read_bytes() == before
            assert web.settings["kiosk"] == {"idle_seconds": 45}
        finally:
            web.close()


def test_new_device_waits_for_staff_approval(tmp_path, hub_db):
    hub_dir, branches, tokens = make_town(tmp_path, (LIB,), hub_db=hub_db, auto_approve=False)
    _admin(hub_dir)
    with opened(hub_dir) as h:
        config.publish(h, {"kiosk": {"idle_seconds": 90}})
    with HubProcess(hub_dir) as hub:
        enrol_all(hub.url, branches, tokens)
        with opened(branches[LIB]) as ctx:
            assert ctx.settings["sync"]["enrolment"] == "pending"
            assert "config_version" not in ctx.settings  # no config before approval
            device = ctx.origin
            seed(ctx, n_items=1, n_patrons=1)
            head = events.head(device)[0]
            with pytest.raises(protocol.SyncError) as err:
                agent.run_once(ctx)
            assert err.value.code == "pending_approval"
            assert status.summary(ctx)["last_error"].startswith("pending_approval")
            users.create(ctx, "thuthu", PASSWORD, "librarian")
            client = create_app(ctx, testing=True).test_client()
            with client.session_transaction() as s:
                s.update(user="thuthu", role="librarian", csrf="t", login_at=time.time(),
                         sid=users.open_login("thuthu", "session", 3600))
            desk = client.get("/desk/").get_data(as_text=True)
            assert "Đang chờ cán bộ máy chủ thành phố duyệt thiết bị này." in desk
        with opened(hub_dir) as h:
            assert events.head(device)[0] == 0  # nothing taken from a pending device
            assert SyncRefusal.get(SyncRefusal.sender == device).code == "pending_approval"

        admin = _session(hub.url)
        page = admin.get(hub.url + "/hub/fleet", timeout=10).text
        row = _row(page, device)
        assert "chờ duyệt" in row
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', row).group(1)
        assert admin.post(hub.url + f"/hub/fleet/{device}/approve", data={},
                          timeout=10).status_code == 400  # no CSRF token, no approval
        r = admin.post(hub.url + f"/hub/fleet/{device}/approve", data={"csrf_token": csrf},
                       timeout=10)
        assert r.ok and "chờ duyệt" not in _row(r.text, device)
        with opened(branches[LIB]) as ctx:
            assert agent.run_once(ctx)["pushed"] == head
            assert ctx.settings["kiosk"] == {"idle_seconds": 90}  # config on the first sync
            assert status.summary(ctx)["last_error"] is None


def _empty_batch(branch, sign_key):
    with opened(branch) as ctx:
        data = protocol.seal_payload({"pull_after": 0}, [], sender=ctx.origin,
                                     sign_key=sign_key, recipient=protocol.hub_peer(ctx.settings))
    return data


def _post(url, data):
    return requests.post(url + protocol.PATH, data=data, timeout=30,
                         headers={"Content-Type": "application/octet-stream"})


def test_device_key_rotation_with_overlap_then_revocation(tmp_path, hub_db):
    with running_town(tmp_path, (LIB,), hub_db, admin=None) as town:
        hub, hub_dir, branch = town.hub, town.hub_dir, town.branches[LIB]
        old = keys.load(branch)
        new = keys.prepare_rotation(branch)
        assert keys.prepare_rotation(branch).public_dict() == new.public_dict()  # made once
        with opened(branch) as ctx:
            seed(ctx, n_items=1, n_patrons=1)
            device = ctx.origin
            assert agent.run_once(ctx)["pushed"] > 0  # announced in a batch the old key signed
        assert keys.load(branch).public_dict() == new.public_dict()
        assert not keys.next_dir(branch).exists()
        with opened(hub_dir) as h:
            dev = Device.get_by_id(device)
            assert (dev.sign_key, dev.box_key) == tuple(new.public_dict().values())
            assert RetiredKey.get(RetiredKey.device == device).sign_key == \
                old.public_dict()["sign_key"]

        # during the overlap both keys are accepted
        assert _post(hub.url, _empty_batch(branch, old.sign)).status_code == 200
        with opened(branch) as ctx:
            circulation.checkout(ctx, "DH01P0000", "DH01I00000")
            assert agent.run_once(ctx)["pushed"] == 1  # the new key
        # after it, only the new one
        with opened(hub_dir) as h:
            RetiredKey.update(until_ms=0).where(RetiredKey.device == device).execute()
        late = _post(hub.url, _empty_batch(branch, old.sign))
        assert (late.status_code, late.json()["error"]["code"]) == (403, "retired_key")
        assert _post(hub.url, _empty_batch(branch, new.sign)).status_code == 200
        # a forged rotation (new keys without proof of holding them) is refused whole
        with opened(branch) as ctx:
            stranger = keys.load_or_create(tmp_path / "stranger")
            claim = {**keys.rotation_proof(device, stranger), "sign_key":
                     keys.load_or_create(tmp_path / "other").public_dict()["sign_key"]}
            forged = protocol.seal_payload({"pull_after": 0, "rotate": claim}, [],
                                           sender=device, sign_key=new.sign,
                                           recipient=protocol.hub_peer(ctx.settings))
        bad = _post(hub.url, forged)
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "bad_rotation")
        # revoking stops the device at once, whatever key it signs with
        with opened(hub_dir) as h:
            enrol.revoke(h, device)
        for key in (new.sign, old.sign):
            gone = _post(hub.url, _empty_batch(branch, key))
            assert gone.json()["error"]["code"] == "revoked_device"
        with opened(branch) as ctx:
            with pytest.raises(protocol.SyncError) as err:
                agent.run_once(ctx)
            assert err.value.code == "revoked_device"
