"""`thuvien update` and `thuvien firstboot` as a person runs them."""

import json
import subprocess
import sys
import zipfile

import pytest

from appliance.core import datadir
from appliance.core.context import load_settings, save_settings
from provisioning import updates, window
from sync import keys
from tests.sync.syncsupport import hub_db_fixture  # noqa: F401  (the hub_db fixture)


def thuvien(*args):
    return subprocess.run([sys.executable, "-m", "appliance.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def device(tmp_path, hub_signing_key, wheels):
    """An enrolled device's data folder (trusting the hub key) and an app root at 0.1.0."""
    data = tmp_path / "data"
    datadir.init(data, "PY-DH01", "Thư viện phường Hòa Vinh").close()
    settings = load_settings(data)
    settings["sync"] = {"hub_url": "http://127.0.0.1:9",
                        "hub_sign_key": keys.b64(keys.raw_public(hub_signing_key.public_key()))}
    save_settings(data, settings)
    inst = updates.Installation(tmp_path / "app")
    inst.install(wheels["0.1.0"], "0.1.0")
    inst.switch("0.1.0")
    return data, inst


def test_update_apply_good_tampered_and_bad(tmp_path, device, wheels, hub_signing_key):
    data, inst = device
    good = updates.build_bundle(wheels["0.2.0"], hub_signing_key, tmp_path / "good.tvu",
                                min_version="0.1.0")
    tampered = tmp_path / "tampered.tvu"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(tampered, "w") as out:
        for info in src.infolist():
            data_bytes = src.read(info)
            out.writestr(info, data_bytes.replace(b"0.2.0", b"6.6.6") if
                         info.filename.endswith(".whl") else data_bytes)
    run = thuvien("update", "apply", tampered, "--data", data, "--root", inst.root)
    assert run.returncode == 1 and "signed hash" in run.stderr
    assert inst.current_version() == "0.1.0"

    run = thuvien("update", "apply", good, "--data", data, "--root", inst.root)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)[0]["result"] == "installed"

    bad = updates.build_bundle(wheels["0.3.0"], hub_signing_key, tmp_path / "bad.tvu",
                               min_version="0.1.0")
    run = thuvien("update", "apply", bad, "--data", data, "--root", inst.root)
    assert run.returncode == 2
    assert json.loads(run.stdout)[0]["result"] == "rolled_back"
    status = json.loads(thuvien("update", "status", "--root", inst.root).stdout)
    assert status["current"] == "0.2.0" and "0.3.0" in status["failed"]


def test_update_needs_an_enrolled_device(tmp_path, wheels, hub_signing_key):
    data = tmp_path / "data"
    datadir.init(data, "PY-DH01", "x").close()
    good = updates.build_bundle(wheels["0.2.0"], hub_signing_key, tmp_path / "good.tvu",
                                min_version="0.1.0")
    run = thuvien("update", "apply", good, "--data", data, "--root", tmp_path / "app")
    assert run.returncode != 0 and "not enrolled" in run.stderr
    assert not (tmp_path / "app/versions").exists()


def test_firstboot_exit_status_tells_systemd_whether_to_retry(tmp_path):
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "thuvien.json").write_text('{"hub": "http://127.0.0.1:9", "token": "t0k3n-abc",'
                                       ' "library": "PY-DH01"}')
    run = thuvien("firstboot", "--boot", boot, "--data", tmp_path / "data")
    assert run.returncode == 1 and "127.0.0.1:9" in run.stderr  # hub down: retry later
    (boot / "thuvien.json").write_text("{broken")
    run = thuvien("firstboot", "--boot", boot, "--data", tmp_path / "data2")
    assert run.returncode == 3 and "cannot be read" in run.stderr


def test_update_status_tells_what_waits_and_now_runs_it(tmp_path, device, schema_wheels,
                                                        hub_signing_key):
    data, inst = device
    settings = load_settings(data)
    settings["update_window"] = "22:00-05:00"
    save_settings(data, settings)
    (data / window.WAITING).mkdir(parents=True)
    updates.build_bundle(schema_wheels["0.4.0"], hub_signing_key,
                         data / window.WAITING / "thuvien-0.4.0.tvu", min_version="0.1.0")
    status = json.loads(thuvien("update", "status", "--root", inst.root, "--data", data).stdout)
    assert status["waiting"] == ["thuvien-0.4.0.tvu"] and status["update_window"] == "22:00-05:00"

    run = thuvien("update", "apply", "--pending", "--now", "--data", data, "--root", inst.root)
    assert run.returncode == 0, run.stderr
    assert [(r["result"], r.get("database")) for r in json.loads(run.stdout)] == \
        [("installed", "migrated")]
    status = json.loads(thuvien("update", "status", "--root", inst.root, "--data", data).stdout)
    assert status["current"] == "0.4.0" and status["waiting"] == []


def test_town_staff_publish_the_devices_configuration_from_the_command_line(tmp_path, hub_db):
    hub = tmp_path / "hub"
    datadir.init(hub, "PY-HUB", "Thư viện thị xã Đông Hòa", role="hub", database=hub_db).close()
    night = tmp_path / "night.json"
    night.write_text('{"update_window": "22:00-05:00"}', encoding="utf-8")
    run = thuvien("hub", "config", "publish", night, "--library", "PY-DH01", "--data", hub)
    assert run.returncode == 0, run.stderr
    assert "published configuration 1 for library PY-DH01, device *" in run.stdout
    for text, words in [('{"update_window": "10pm-5am"}', "HH:MM-HH:MM"),
                        ('{"update_window": "22:00-05:00",}', "is not JSON"),
                        ('{"role": "hub"}', "Unknown configuration sections: role")]:
        night.write_text(text, encoding="utf-8")
        run = thuvien("hub", "config", "publish", night, "--data", hub)
        assert run.returncode == 1 and words in run.stderr, run.stderr
    night.write_text("{}", encoding="utf-8")
    run = thuvien("hub", "config", "publish", night, "--device", "py-zz99-dddd", "--data", hub)
    assert run.returncode == 1 and "No device py-zz99-dddd" in run.stderr
    listed = json.loads(thuvien("hub", "config", "list", "--data", hub).stdout)
    assert [(c["version"], c["library"], c["device"], c["body"]) for c in listed] == \
        [(1, "PY-DH01", "*", {"update_window": "22:00-05:00"})]

    branch = tmp_path / "branch"
    datadir.init(branch, "PY-DH01", "Thư viện phường Hòa Vinh").close()
    run = thuvien("hub", "config", "publish", night, "--data", branch)
    assert run.returncode == 1 and "Only the hub publishes" in run.stderr
