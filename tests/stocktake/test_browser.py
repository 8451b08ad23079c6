"""The stocktake in real headless Chromium on a desk's 800×480 screen: start, scans typed
by a keyboard-wedge scanner (the code and Enter), finish, the result, mark the missing
copies lost, export the record; and copies laid on the RFID pad (the FEIG simulator
under the real devices daemon) counted at once."""

import json

import pytest

from appliance.core import catalogue
from appliance.core.models import Item, StocktakeSeen
from devices import config as devices_config
from devices.daemon import Daemon
from devices.rfid.iso28560 import TagData
from devices.rfid.sim_feig import SimFeig
from tests.factories import PASSWORD
from tests.stocktake.records import check_record

pytestmark = pytest.mark.browser


@pytest.fixture
def desk(chromium, server):
    context = chromium.new_context(locale="vi-VN", viewport={"width": 800, "height": 480},
                                   accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{server.url}/login")
    page.fill("#username", "thuthu")
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url("**/desk/**")
    yield page
    context.close()


def _wedge(page, code):
    """What a keyboard-wedge scanner does: type the code into the focused field, Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def _focused(page):
    """The scan field has the focus, or takes it within the wait: Chromium applies
    `autofocus` at its next rendering step, which can come after the page's selector is
    found (asking at once failed now and then)."""
    page.wait_for_function("() => document.activeElement && "
                           "document.activeElement.id === 'barcode'", timeout=5000)


def _start(page, server):
    page.goto(f"{server.url}/desk/stocktake/")
    page.click("#start-form button[type=submit]")
    page.wait_for_selector("#scan-form")


def test_start_scan_finish_mark_lost_export(ctx, server, desk, tmp_path):
    catalogue.set_status(ctx, "1005", "withdrawn")
    page = desk
    _start(page, server)
    _focused(page)
    for code in ("1001", "1002", "1002", "1005"):
        _wedge(page, code)
    page.wait_for_selector("#stocktake[data-scans='4']")
    assert page.inner_text("#seen-count") == "3"
    assert "Đã thanh lý mà vẫn thấy trên giá." in page.inner_text("#answer")
    _focused(page)  # ready for the next
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 800, f"the scan page is {width}px wide on an 800px screen"
    page.screenshot(path=str(tmp_path / "scan.png"))

    page.click("#finish")
    page.wait_for_selector("#mark-lost")
    assert page.inner_text("#c-missing") == "2"
    assert page.locator("#missing tr[data-barcode]").count() == 2
    page.click("#unexpected button.put-back")
    page.wait_for_selector("text=Bản sách 1005 đã được đưa lại lên giá.")
    page.click("#mark-lost")
    page.wait_for_selector("text=Đã ghi mất 2 bản sách thiếu.")
    assert [i.condition for i in Item.select().where(Item.barcode << ["1003", "1004"])] \
        == ["lost", "lost"]
    assert "đã ghi là mất" in page.inner_text("#missing")
    page.screenshot(path=str(tmp_path / "result.png"), full_page=True)

    files = {}
    for fmt in ("xlsx", "pdf"):
        with page.expect_download() as download:
            page.click(f"#export-{fmt}")
        files[fmt] = tmp_path / f"record.{fmt}"
        download.value.save_as(files[fmt])
    check_record(files["xlsx"].read_bytes(), files["pdf"].read_bytes(),
                 "Thư viện phường Hòa Hiệp Trung", ["1003", "1004"], "thuthu")


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
    yield sim
    daemon.stop()
    sim.stop()


def test_copies_laid_on_the_pad_are_counted_at_once(ctx, server, pad, desk):
    ctx.settings["event_heartbeat_seconds"] = 0.5
    page = desk
    _start(page, server)
    page.wait_for_selector("#stocktake[data-events=open]")
    books = [pad.add_tag(TagData(code, country="VN", library="PY-DH01"))
             for code in ("1001", "1002", "1003")]
    stranger = pad.add_tag(TagData("8001", country="VN", library="PY-XA02"))
    for _ in range(100):  # the page's CSP forbids a predicate evaluated in it: poll here
        if page.inner_text("#seen-count") == "4":
            break
        page.wait_for_timeout(100)
    assert page.inner_text("#seen-count") == "4"
    seen = {r.barcode: r for r in StocktakeSeen.select()}
    assert sorted(seen) == ["1001", "1002", "1003", "8001"]
    assert seen["8001"].owner == "PY-XA02" and seen["1001"].via == "rfid"
    for tag in books + [stranger]:  # lifted and laid down again: counted once
        tag.present = False
    page.wait_for_timeout(300)
    for tag in books:
        tag.present = True
    page.wait_for_selector("#answer.again")
    assert StocktakeSeen.select().count() == 4
    page.click("#finish")
    page.wait_for_selector("#c-unexpected")
    assert page.inner_text("#c-unexpected") == "1"
    assert "PY-XA02" in page.inner_text("#unexpected")
