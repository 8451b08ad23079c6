"""The update health check renders real pages: an update whose wheel lacks its templates
starts and answers /api/v1/health, and is rolled back all the same."""

import pytest
import requests

from provisioning import bundle, updates
from tests.conftest import free_port
from tests.factories import LIB
from tests.provisioning.served import Serving, run


class WebService:
    """`current/bin/thuvien serve` on a fixed port; restart() is what
    `systemctl restart thuvien-web` does: stop, and start whatever `current` is now."""

    def __init__(self, inst, data, cwd):
        self.args = (inst.current / "bin/thuvien", data, cwd)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.served = Serving(*self.args, port=self.port)

    def restart(self):
        self.served.stop()
        self.served = Serving(*self.args, port=self.port)


@pytest.fixture
def running(tmp_path, wheel):
    """This tree's wheel installed as the running version, serving a fresh library."""
    inst = updates.Installation(tmp_path / "app")
    version = updates.WHEEL_NAME.match(wheel.name)["version"]
    inst.install(wheel, version)
    inst.switch(version)
    cwd = tmp_path / "run"  # outside the source tree
    cwd.mkdir()
    run(inst.current / "bin/thuvien", "init", "--data", tmp_path / "data", "--library", LIB,
        "--name", "Thư viện phường Hòa Hiệp Trung", cwd=cwd)
    service = WebService(inst, tmp_path / "data", cwd)
    yield inst, version, service
    service.served.stop()


def _serves_its_pages(url):
    login = requests.get(f"{url}/login", timeout=10)
    assert login.status_code == 200 and "Đăng nhập" in login.text
    opac = requests.get(f"{url}/opac/", timeout=10)
    assert opac.status_code == 200 and "Tra cứu mục lục" in opac.text


@pytest.mark.slow
def test_update_without_templates_is_rolled_back(tmp_path, running, templateless_wheel,
                                                 hub_signing_key):
    inst, version, service = running
    check = updates.command_health(service.url, timeout=60)
    # the check passes the version that has its pages
    assert check(inst.current.resolve(), version) == (True, "ok")
    broken = updates.build_bundle(templateless_wheel, hub_signing_key, tmp_path / "broken.tvu",
                                  min_version=version)
    result = updates.apply(broken, inst, bundle.trust(hub_signing_key),
                           restart=service.restart, health=check)
    assert result["result"] == "rolled_back" and result["version"] == "99.0.0", result
    # /api/v1/health answered as 99.0.0 (checked first); the login page did not render
    assert result["reason"].startswith("/login answered HTTP 500"), result
    assert "restart_error" not in result
    assert inst.current_version() == version and inst.installed() == [version]
    assert inst.state()["failed"] == {"99.0.0": result["reason"]}
    # restarted into the old version, which serves its pages again
    assert requests.get(f"{service.url}/api/v1/health", timeout=10).json()["version"] == version
    _serves_its_pages(service.url)
