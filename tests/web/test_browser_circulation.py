"""Circulation flows in real Chromium, keystrokes at the scan field as a wedge scanner
types them: a hold pulled from the shelf, trapped at Returns with its slip, and picked up;
another library's copy taken back here with a transit slip and received at home."""

import pytest

from appliance.core import circulation, events, holds, patrons, users
from appliance.core.context import Context
from appliance.core.models import Event, Hold, Item, Loan
from appliance.web import create_app
from sync.receive import TOWN_WIDE
from tests.conftest import Server
from tests.factories import PASSWORD, make_library, seed
from tests.web.test_browser_scan import focused_id, in_view, login, scan

pytestmark = pytest.mark.browser


def test_pull_list_trap_and_pickup(server, page, ctx):
    hold = holds.place(ctx, "P0002", ctx.bibs[1].id)  # "Số đỏ": 1002 is on the shelf
    login(page, server)
    page.goto(f"{server.url}/desk/holds")
    page.click("text=Danh sách sách cần lấy từ kệ")
    row = page.inner_text("#pull-list tbody tr")
    assert "Số đỏ" in row and "1002" in row and "P0002" in row
    assert "Trần Thị Bình" not in page.inner_text("#pull-list"), "the card, not the name"
    assert Hold.get_by_id(hold.id).status == "waiting", "nothing is held by a list"

    page.goto(f"{server.url}/desk/checkin")
    assert focused_id(page) == "barcode"
    scan(page, "1002")
    slip = page.inner_text("#hold-slip")
    assert "Trần Thị Bình" in slip and "P0002" in slip and "Số đỏ" in slip
    assert "Thư viện phường Hòa Hiệp Trung" in slip, "the pickup library by name"
    pickup_by = Hold.get_by_id(hold.id).pickup_by
    assert "/".join(reversed(pickup_by.split("-"))) in slip
    assert in_view(page, "#checkin-result") and focused_id(page) == "barcode"
    assert Item.get(Item.barcode == "1002").status == "on_hold_shelf"
    page.goto(f"{server.url}/desk/holds/pull")
    assert page.locator("#pull-empty").count() == 1

    page.goto(f"{server.url}/desk/")
    scan(page, "P0001")  # someone else brings the copy to the desk: refused
    scan(page, "1002")
    assert "đặt trước" in page.inner_text(".flash.error")
    page.goto(f"{server.url}/desk/")
    scan(page, "P0002")  # the patron who waited takes it
    scan(page, "1002")
    assert page.locator(".flash.success").count() == 1
    assert Hold.get_by_id(hold.id).status == "fulfilled"
    assert [ln.item.barcode for ln in patrons.open_loans(patrons.find(ctx, "P0002"))] == [
        "1002"]


A, B = "PY-DH01", "PY-DH02"


def _town(tmp_path):
    """Library A lends 1001 to P0001; library B holds A's town-wide records, as the hub
    relays them (B's own copies have other barcodes)."""
    a = make_library(tmp_path / "a")
    seed(a)
    loan = circulation.checkout(a, "P0001", "1001")
    records = [events.to_dict(e) for e in Event.select().where(Event.origin == a.origin)
               .order_by(Event.seq) if e.kind in TOWN_WIDE]
    a_dir = a.data_dir
    a.close()
    b = make_library(tmp_path / "b", library=B, name="Thư viện phường Hòa Vinh")
    users.create(b, "thuthu", PASSWORD, "librarian")
    events.ingest(b, records, relayed=True)
    b_dir = b.data_dir
    b.close()
    return a_dir, b_dir, loan


def test_another_librarys_copy_returned_here_travels_home(tmp_path, page):
    a_dir, b_dir, loan = _town(tmp_path)
    b = Context.open(b_dir)
    with Server(create_app(b, testing=True)) as at_b:
        login(page, at_b)
        page.goto(f"{at_b.url}/desk/checkin")
        scan(page, "1001")
        result = page.inner_text("#checkin-result")
        assert "Truyện Kiều" in result and "Thư viện phường Hòa Hiệp Trung" in result
        slip = page.inner_text("#transit-slip")
        assert "Thư viện phường Hòa Hiệp Trung" in slip and "Thư viện phường Hòa Vinh" in slip
        assert "1001" in slip
        assert focused_id(page) == "barcode"
        scan(page, "1001")  # scanned again before the van comes: taken once
        assert "đã nhận trả tại đây rồi" in page.inner_text("#checkin-result")
        assert page.locator("#transit-slip").count() == 0
    returned = [events.to_dict(e) for e in Event.select().where(Event.kind == "loan.in")]
    assert len(returned) == 1 and returned[0]["library"] == A
    b.close()

    a = Context.open(a_dir)  # the return reaches A through the hub
    events.ingest(a, returned, relayed=True)
    assert Loan.get_by_id(loan["loan_id"]).returned_at is not None
    assert Item.get(Item.barcode == "1001").status == "in_transit"
    with Server(create_app(a, testing=True)) as at_a:
        login(page, at_a)
        page.goto(f"{at_a.url}/desk/checkin")
        scan(page, "1001")  # the van brought it home: one scan
        assert "từ thư viện khác gửi về" in page.inner_text("#checkin-result")
        assert Item.get(Item.barcode == "1001").status == "available"
        page.goto(f"{at_a.url}/desk/")
        scan(page, "P0002")
        scan(page, "1001")  # on the shelf again: lent
        assert page.locator(".flash.success").count() == 1
    a.close()
