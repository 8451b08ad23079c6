"""The kiosk with the real devices daemon: a simulated FEIG RFID pad (real reader bytes
over a pty) under the daemon, which posts device events to the appliance; the kiosk
page in Chromium borrows what lies on the pad, and the daemon sets the tags' AFI."""

import json

import pytest

from appliance.core import patrons
from devices import config as devices_config
from devices.daemon import Daemon
from devices.rfid.iso28560 import TagData
from devices.rfid.reader import AFI_LOAN, AFI_SHELF
from devices.rfid.sim_feig import SimFeig
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def pad(server, ctx, tmp_path):
    sim = SimFeig().start()
    folder = tmp_path / "devices"
    folder.mkdir()
    (folder / "device-token").write_text((ctx.data_dir / "device-token").read_text())
    (folder / "devices.json").write_text(json.dumps({
        "appliance": server.url, "api": {"host": "127.0.0.1", "port": 0},
        "rfid": {"name": "pad", "protocol": "feig", "port": sim.path, "poll": 0.05,
                 "parity": "N"},
        "backoff": {"initial": 0.05, "max": 0.2},
    }))
    daemon = Daemon(devices_config.load(folder))
    daemon.start()
    ctx.settings["devices_url"] = f"http://127.0.0.1:{daemon.api.port}"
    yield sim
    daemon.stop()
    sim.stop()


def test_borrow_from_the_pad_through_the_daemon(server, ctx, pad, browser):
    ctx.settings["event_heartbeat_seconds"] = 0.5
    page = browser
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", "kiosk")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-events=open]")

    card = pad.add_tag(TagData("P0002", usage=8))
    page.wait_for_selector("#kiosk[data-mode=session]")
    assert "Trần Thị Bình" in page.inner_text("h1")
    card.present = False

    books = [pad.add_tag(TagData(code, country="VN", library="PY-DH01"))
             for code in ("1003", "1004")]
    page.locator("table.loans tbody tr").nth(1).wait_for()
    assert sorted(ln.item.barcode for ln in patrons.open_loans(patrons.find(ctx, "P0002"))) \
        == ["1003", "1004"]
    assert [pad.tags[t.uid].afi for t in books] == [AFI_LOAN, AFI_LOAN]

    page.click("a.finish")
    page.click("text=In biên lai")  # no printer on this daemon: the receipt stays on screen
    page.wait_for_selector(".result.refused")
    assert "màn hình" in page.inner_text(".results")

    page.click("text=Kết thúc")
    page.wait_for_selector("#kiosk[data-mode=start]")
    page.click("text=Trả sách (không cần thẻ)")
    page.wait_for_selector("#kiosk[data-mode=returns]")
    for book in books:  # take the books off and lay them down again to return them
        book.present = False
    page.wait_for_timeout(300)
    for book in books:
        book.present = True
    page.wait_for_selector("#kiosk[data-mode=returns] .result.ok")
    for _ in range(50):
        if not patrons.open_loans(patrons.find(ctx, "P0002")):
            break
        page.wait_for_timeout(100)
    assert patrons.open_loans(patrons.find(ctx, "P0002")) == []
    assert [pad.tags[t.uid].afi for t in books] == [AFI_SHELF, AFI_SHELF]
