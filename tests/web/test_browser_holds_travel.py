"""A hold that travels, in real Chromium at two libraries' desks, keystrokes at the scan
field: B's librarian holds "Số đỏ" (only A has a copy) for B's patron; after the sync
A's pull list shows it with the card and the pickup library, A's scan prints a transit
slip to B; after the sync B's one scan puts it on the hold shelf with B's hold slip, B
lends it to that patron and, days later, renews it at its desk. (The hub's part is tests/sync/test_sync_holds_travel.py.)"""

import pytest

from appliance.core import events, patrons, privacy, users
from appliance.core.context import Context
from appliance.core.models import Event, Hold, Item, Loan
from appliance.web import create_app
from sync.receive import TOWN_WIDE
from tests.conftest import Server
from tests.factories import PASSWORD, make_library, seed
from tests.web.test_browser_scan import focused_id, login, scan

pytestmark = pytest.mark.browser

A, B = "PY-DH01", "PY-DH02"
A_NAME, B_NAME = "Thư viện phường Hòa Hiệp Trung", "Thư viện phường Hòa Vinh"


def _mine(origin, since=0, kinds=None):
    return [events.to_dict(e) for e in Event.select().where(
        (Event.origin == origin) & (Event.seq > since)).order_by(Event.seq)
        if kinds is None or e.kind in kinds]


def _relay(data_dir, evs):
    """What the hub relays to that branch (other libraries' cards redacted)."""
    ctx = Context.open(data_dir)
    events.ingest(ctx, [privacy.for_branch(e, ctx.library) for e in evs], relayed=True)
    ctx.close()


def test_a_hold_at_b_on_as_copy_pulled_sent_received_and_lent(tmp_path, page):
    a = make_library(tmp_path / "a")
    bib_id = seed(a)[1].id  # "Số đỏ": copy 1002, at A only
    a_dir, a_origin, a_records = a.data_dir, a.origin, _mine(a.origin, kinds=TOWN_WIDE)
    a.close()
    b = make_library(tmp_path / "b", library=B, name=B_NAME)
    users.create(b, "thuthu", PASSWORD, "librarian")
    events.ingest(b, a_records, relayed=True)
    patrons.save(b, {"card": "B0001", "name": "Lê Thị Bích", "category": "adult",
                     "phone": "0905000001", "expiry": "2030-12-31"})
    b_dir, b_origin, b_records = b.data_dir, b.origin, _mine(b.origin, kinds=TOWN_WIDE)
    b_seq = events.head(b.origin)[0]
    b.close()
    _relay(a_dir, b_records)

    b = Context.open(b_dir)
    with Server(create_app(b, testing=True)) as at_b:
        login(page, at_b)
        page.goto(f"{at_b.url}/desk/bibs/{bib_id}")
        page.fill("#hold-card", "B0001")
        with page.expect_navigation():
            page.press("#hold-card", "Enter")
        assert page.locator(".flash.success").count() == 1
        holds_here = page.inner_text("main")
        assert "B0001" in holds_here and A_NAME in holds_here, "sent from A, said so"
    placed = _mine(b_origin, b_seq)
    b_seq = events.head(b.origin)[0]
    b.close()
    _relay(a_dir, placed)  # the sync

    a = Context.open(a_dir)
    a_seq = events.head(a.origin)[0]
    with Server(create_app(a, testing=True)) as at_a:
        login(page, at_a)
        page.goto(f"{at_a.url}/desk/holds/pull")
        row = page.inner_text("#pull-list tbody tr")
        assert "Số đỏ" in row and "1002" in row and "B0001" in row and B_NAME in row
        assert "Lê Thị Bích" not in page.inner_text("main"), "the card, not the name"
        page.goto(f"{at_a.url}/desk/checkin")
        scan(page, "1002")
        slip = page.inner_text("#transit-slip")
        assert B_NAME in slip and A_NAME in slip and "B0001" in slip and "Số đỏ" in slip
        assert "1002" in slip and "Lê Thị Bích" not in slip and "0905000001" not in slip
        assert page.locator("#hold-slip").count() == 0
        assert focused_id(page) == "barcode"
        assert Item.get(Item.barcode == "1002").status == "in_transit"
        page.goto(f"{at_a.url}/desk/holds/pull")
        assert page.locator("#pull-empty").count() == 1
    sent = _mine(a_origin, a_seq)
    a.close()
    _relay(b_dir, sent)  # the sync; the van takes the copy

    b = Context.open(b_dir)
    with Server(create_app(b, testing=True)) as at_b:
        login(page, at_b)
        page.goto(f"{at_b.url}/desk/checkin")
        scan(page, "1002")  # one scan
        assert A_NAME in page.inner_text("#arrived")
        slip = page.inner_text("#hold-slip")
        assert "Lê Thị Bích" in slip and "B0001" in slip and "Số đỏ" in slip
        assert B_NAME in slip
        hold = Hold.get()
        assert (hold.status, hold.library, hold.source) == ("ready", B, A)
        assert Item.get(Item.barcode == "1002").status == "on_hold_shelf"
        page.goto(f"{at_b.url}/desk/")
        scan(page, "B0001")
        scan(page, "1002")
        assert page.locator(".flash.success").count() == 1, page.inner_text("main")
        assert Hold.get_by_id(hold.id).status == "fulfilled"
        loan = Loan.get()
        assert (loan.library, loan.pickup) == (A, B)
        # days later (the renewal puts the log right), the patron asks for more time
        Loan.update(due_date=b.clock.today().isoformat()).where(Loan.id == loan.id).execute()
        page.reload()
        with page.expect_navigation():
            page.click("#loans button[type=submit]")
        assert page.locator(".flash.success").count() == 1, page.inner_text("main")
        renewed = Loan.get_by_id(loan.id)
        assert renewed.renewals == 1 and renewed.due_date > b.clock.today().isoformat()
        assert "1002" in page.inner_text("#loans") and focused_id(page) == "barcode"
    lent = _mine(b_origin, b_seq)
    b.close()
    steps = [e for e in lent if e["kind"] in ("hold.trapped", "loan.out", "loan.renew")]
    assert [(e["kind"], e["library"]) for e in steps] == [
        ("hold.trapped", B), ("loan.out", A), ("loan.renew", A)], "the renewal goes to A"
    assert steps[1]["body"]["pickup"] == B, "the loan of A's copy, routed to B's desks too"
