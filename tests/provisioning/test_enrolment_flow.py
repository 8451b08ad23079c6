"""The whole flow on loopback: a real hub, a token, a fresh data folder enrolling at first
boot, a signed config bundle applied, and every refusal."""

import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import sync.hub  # noqa: F401  (sync's tables)
from appliance.core import datadir
from appliance.core.context import Context, load_settings, save_settings
from provisioning import bundle, config, firstboot
from provisioning.bundle import BundleRefused
from sync import enrol
from tests.provisioning.hubproc import Served
from tests.sync.syncsupport import BACKENDS, hub_database


@pytest.fixture(scope="module", params=BACKENDS)
def hub(request, tmp_path_factory):
    """A hub with a published town-wide config, served on loopback, on either database."""
    with hub_database(request.param) as url:
        hub_dir = tmp_path_factory.mktemp("hub")
        ctx = datadir.init(hub_dir, "PY-HUB", "Thư viện thị xã Đông Hòa", role="hub",
                           database=url)
        save_settings(hub_dir, {**load_settings(hub_dir), "auto_approve": True})
        config.publish(ctx, {"kiosk": {"idle_seconds": 90}, "sync_schedule": {"minutes": 15}})
        ctx.close()
        served = Served(hub_dir)
        served.dir = hub_dir
        yield served
        served.stop()


def _token(hub, library="PY-DH01", ttl_hours=1.0):
    ctx = Context.open(hub.dir)
    try:
        return enrol.create_token(ctx, library, ttl_hours=ttl_hours)
    finally:
        ctx.close()


def _boot(tmp_path, hub, token, library="PY-DH01", fmt="json"):
    boot = tmp_path / "boot"
    boot.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        (boot / "thuvien.json").write_text(json.dumps({"hub": hub.url, "token": token,
                                                       "library": library}))
    else:
        (boot / "thuvien.toml").write_text(
            f'hub = "{hub.url}"\ntoken = "{token}"\nlibrary = "{library}"\n'
            'name = "Thư viện phường Hòa Vinh"\n')
    return boot


def test_fresh_pi_enrols_once_and_applies_config(tmp_path, hub):
    boot, data = _boot(tmp_path, hub, _token(hub), fmt="toml"), tmp_path / "data"
    result = firstboot.run(boot, data)
    assert result["result"] == "enrolled" and result["library"] == "PY-DH01"
    assert not (boot / "thuvien.toml").exists()  # the one-time secret is gone
    settings = load_settings(data)
    assert settings["library_name"] == "Thư viện phường Hòa Vinh"
    assert settings["sync"]["hub_url"] == hub.url and settings["sync"]["hub_sign_key"]
    assert (data / "keys").is_dir()
    # a second boot does nothing
    assert firstboot.run(boot, data)["result"] == "already_done"

    # the enrolment answer carried a signed config bundle, applied at once
    hub_ctx = Context.open(hub.dir)
    try:
        doc = config.bundle_for(hub_ctx, "PY-DH01", settings["device_id"])
        assert config.bundle_for(hub_ctx, "PY-DH01", settings["device_id"],
                                 have=doc["payload"]["version"]) is None
    finally:
        hub_ctx.close()
    new = settings
    assert new["kiosk"] == {"idle_seconds": 90}
    assert new["config_version"] == doc["payload"]["version"]
    assert json.loads((data / config.BUNDLE_FILE).read_text())["payload"]["version"] == 1
    assert "kiosk" not in json.loads((data / config.PREVIOUS_FILE).read_text())

    # a config change at the hub arrives as a newer bundle
    hub_ctx = Context.open(hub.dir)
    try:
        config.publish(hub_ctx, {"kiosk": {"idle_seconds": 45}}, library="PY-DH01")
        newer = config.bundle_for(hub_ctx, "PY-DH01", settings["device_id"],
                                  have=new["config_version"])
    finally:
        hub_ctx.close()
    assert config.apply_bundle(data, newer)["kiosk"] == {"idle_seconds": 45}
    assert json.loads((data / config.PREVIOUS_FILE).read_text())["kiosk"] == \
        {"idle_seconds": 90}

    # refusals, each leaving the settings as they were
    before = (data / "settings.json").read_bytes()
    with pytest.raises(BundleRefused) as err:  # replayed older bundle
        config.apply_bundle(data, doc)
    assert err.value.code == "bundle_old_version"
    tampered = json.loads(json.dumps(newer))
    tampered["payload"]["version"] += 5
    with pytest.raises(BundleRefused) as err:
        config.apply_bundle(data, tampered)
    assert err.value.code == "bundle_bad_signature"
    forged = bundle.sign({**newer["payload"], "version": 99}, Ed25519PrivateKey.generate())
    with pytest.raises(BundleRefused) as err:
        config.apply_bundle(data, forged)
    assert err.value.code == "bundle_unknown_key"
    assert (data / "settings.json").read_bytes() == before


def test_reused_token_is_refused(tmp_path, hub):
    token = _token(hub)
    assert firstboot.run(_boot(tmp_path / "a", hub, token), tmp_path / "a/data")["result"] \
        == "enrolled"
    boot = _boot(tmp_path / "b", hub, token)
    with pytest.raises(firstboot.FirstBootError) as err:
        firstboot.run(boot, tmp_path / "b/data")
    assert err.value.code == "bad_token" and err.value.permanent
    assert "used or expired" in str(err.value)
    assert (boot / "thuvien.json").exists()  # kept, so staff can see what was tried
    assert not (tmp_path / "b/data" / firstboot.DONE_FILE).exists()


def test_expired_token_is_refused(tmp_path, hub):
    token = _token(hub, ttl_hours=0.3 / 3600)  # 0.3 s
    time.sleep(0.4)
    with pytest.raises(firstboot.FirstBootError) as err:
        firstboot.run(_boot(tmp_path, hub, token), tmp_path / "data")
    assert err.value.code == "bad_token" and err.value.permanent


def test_forged_token_is_refused(tmp_path, hub):
    with pytest.raises(firstboot.FirstBootError) as err:
        firstboot.run(_boot(tmp_path, hub, "made-up-token-1234567"), tmp_path / "data")
    assert err.value.code == "bad_token"


def test_token_for_another_library_is_refused(tmp_path, hub):
    with pytest.raises(firstboot.FirstBootError) as err:
        firstboot.run(_boot(tmp_path, hub, _token(hub, "PY-HH02")), tmp_path / "data")
    assert err.value.code == "wrong_library"


def test_unreachable_hub_is_a_retryable_error(tmp_path, hub):
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "thuvien.json").write_text(json.dumps(
        {"hub": "http://127.0.0.1:9", "token": "x" * 20, "library": "PY-DH01"}))
    with pytest.raises(firstboot.FirstBootError) as err:
        firstboot.run(boot, tmp_path / "data")
    assert not err.value.permanent
    assert (boot / "thuvien.json").exists()


@pytest.mark.parametrize("content,why", [
    ("{not json", "cannot be read"), ('{"hub": "http://x"}', "lacks token, library"),
])
def test_broken_token_file_gets_a_clear_error(tmp_path, content, why):
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "thuvien.json").write_text(content)
    with pytest.raises(firstboot.FirstBootError) as err:
        firstboot.run(boot, tmp_path / "data")
    assert why in str(err.value) and err.value.permanent
    assert not (tmp_path / "data").exists()


def test_no_token_file(tmp_path):
    with pytest.raises(firstboot.FirstBootError) as err:
        firstboot.run(tmp_path, tmp_path / "data")
    assert err.value.code == "token_file_missing"
