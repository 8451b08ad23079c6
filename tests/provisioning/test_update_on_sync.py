"""The whole life of a Pi on loopback: a fresh data folder enrols at first boot, waits
for approval, syncs, receives a config change and a software update with its sync,
installs the good update and rolls back a bad one (restart injected, real import check)."""

import json
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import sync.hub  # noqa: F401  (sync's tables)
from appliance.core import catalogue, circulation, datadir, events, patrons
from appliance.core.context import Context, load_settings, save_settings
from provisioning import bundle, config, firstboot, updates
from sync import agent, enrol, keys, status
from tests.provisioning.hubproc import Served
from tests.sync.syncsupport import hub_db_fixture  # noqa: F401  (the hub_db fixture)

LIB = "PY-DH01"


def _offer_cli(hub_dir, path):
    run = subprocess.run([sys.executable, "-m", "appliance.cli", "update", "offer", "--data",
                          str(hub_dir), str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return run


@pytest.fixture
def hub(tmp_path, hub_db):
    hub_dir = tmp_path / "hub"
    ctx = datadir.init(hub_dir, "PY-HUB", "Thư viện thị xã Đông Hòa", role="hub",
                       database=hub_db)
    config.publish(ctx, {"kiosk": {"idle_seconds": 90}})
    token = enrol.create_token(ctx, LIB)  # also makes the hub's keys
    ctx.close()
    served = Served(hub_dir)
    served.dir, served.token = hub_dir, token
    yield served
    served.stop()


def _desk_day(data):
    with _opened(data) as ctx:
        bib = catalogue.save_bib(ctx, {"title": "Dế Mèn phiêu lưu ký", "authors": ["Tô Hoài"]})
        patrons.save(ctx, {"card": "DH0001", "name": "Nguyễn Văn An", "category": "adult"})
        catalogue.save_item(ctx, {"bib": bib.id, "barcode": "DH00001"})
        circulation.checkout(ctx, "DH0001", "DH00001")
        return ctx.origin, events.head(ctx.origin)[0]


class _opened:
    def __init__(self, data):
        self.ctx = Context.open(data)

    def __enter__(self):
        return self.ctx

    def __exit__(self, *exc):
        self.ctx.close()


def test_enrol_approve_sync_config_and_updates(tmp_path, hub, wheels):
    hub_key = keys.load(hub.dir).sign
    good = updates.build_bundle(wheels["0.2.0"], hub_key, tmp_path / "good.tvu",
                                min_version="0.1.0")
    bad = updates.build_bundle(wheels["0.3.0"], hub_key, tmp_path / "bad.tvu",
                               min_version="0.1.0")
    foreign = updates.build_bundle(wheels["0.2.0"], Ed25519PrivateKey.generate(),
                                   tmp_path / "foreign.tvu", min_version="0.1.0")
    with pytest.raises(bundle.BundleRefused):  # the hub offers only what it signed
        updates.offer(hub.dir, foreign, hub_key)
    updates.offer(hub.dir, good, hub_key)

    # first boot of a fresh Pi: enrolled, but waiting for the town's staff
    boot, data = tmp_path / "boot", tmp_path / "data"
    boot.mkdir()
    (boot / "thuvien.json").write_text(json.dumps({"hub": hub.url, "token": hub.token,
                                                   "library": LIB}))
    assert firstboot.run(boot, data)["result"] == "enrolled"
    origin, head = _desk_day(data)
    with _opened(data) as ctx:
        assert ctx.settings["sync"]["enrolment"] == "pending"
        with pytest.raises(Exception, match="pending_approval"):
            agent.run_once(ctx)
        assert not (data / "updates/incoming").exists()  # nothing from the hub yet
    with _opened(hub.dir) as h:
        enrol.approve(h, origin)

    # first sync: loans up, the config and the good update down
    with _opened(data) as ctx:
        result = agent.run_once(ctx)
        assert result["pushed"] == head
        assert result["update"]["file"] == "thuvien-0.2.0.tvu"
        assert ctx.settings["kiosk"] == {"idle_seconds": 90}
        assert agent.run_once(ctx).get("update") is None  # fetched once, not again
    incoming = data / "updates/incoming"
    assert (incoming / "thuvien-0.2.0.tvu").read_bytes() == good.read_bytes()

    # what thuvien-update.path runs: verify, install, restart (injected), check, keep
    inst = updates.Installation(tmp_path / "app")
    inst.install(wheels["0.1.0"], "0.1.0")
    inst.switch("0.1.0")
    ring = config.trusted_keys(load_settings(data))
    restarts = []

    def apply_pending():
        return updates.apply_pending(incoming, inst, ring, restart=lambda: restarts.append(1),
                                     health=updates.import_health, library=LIB, device=origin)

    assert [r["result"] for r in apply_pending()] == ["installed"]
    assert inst.current_version() == "0.2.0" and restarts == [1]

    # a config change and a bad release at the hub; the download was cut before
    with _opened(hub.dir) as h:
        config.publish(h, {"kiosk": {"idle_seconds": 30}}, library=LIB)
    _offer_cli(hub.dir, bad)
    (incoming / ".thuvien-0.3.0.tvu.part").write_bytes(bad.read_bytes()[:4096])
    with _opened(data) as ctx:
        result = agent.run_once(ctx)
        assert result["update"]["file"] == "thuvien-0.3.0.tvu"
        assert result["update"]["resumed_from"] == 4096
        assert ctx.settings["kiosk"] == {"idle_seconds": 30}
        assert status.summary(ctx)["update_error"] is None
    assert (incoming / "thuvien-0.3.0.tvu").read_bytes() == bad.read_bytes()
    outcome = apply_pending()
    assert [r["result"] for r in outcome] == ["rolled_back"]
    assert "broken release" in outcome[0]["reason"]
    assert inst.current_version() == "0.2.0" and "0.3.0" in inst.status()["failed"]
    assert (incoming / "refused/thuvien-0.3.0.tvu").exists()
    with _opened(data) as ctx:
        assert agent.run_once(ctx).get("update") is None  # a refused version is not fetched


def test_a_damaged_partial_download_is_dropped_and_fetched_whole(tmp_path, hub, wheels):
    hub_key = keys.load(hub.dir).sign
    good = updates.build_bundle(wheels["0.2.0"], hub_key, tmp_path / "good.tvu",
                                min_version="0.1.0")
    updates.offer(hub.dir, good, hub_key)
    data = tmp_path / "data"
    datadir.init(data, LIB, "Thư viện phường Hòa Vinh").close()
    save_settings(hub.dir, {**load_settings(hub.dir), "auto_approve": True})
    with _opened(data) as ctx:
        assert enrol.enrol_with(ctx, hub.url, hub.token)["enrolment"] == "active"
    incoming = data / "updates/incoming"
    incoming.mkdir(parents=True)
    part = incoming / ".thuvien-0.2.0.tvu.part"
    part.write_bytes(b"\0" * good.stat().st_size)  # a full-size but wrong leftover
    with _opened(data) as ctx:
        result = agent.run_once(ctx)
        assert result["update"]["resumed_from"] == 0  # dropped, fetched whole
        assert status.summary(ctx)["update_error"] is None
    assert not part.exists()
    assert (incoming / "thuvien-0.2.0.tvu").read_bytes() == good.read_bytes()
