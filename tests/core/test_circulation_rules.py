"""Circulation as librarians live it: a renewal counts only when it moves the due date,
holds wait until staff pull and scan a copy, overdue copies block a card by rule, and
another library's copy is taken back anywhere and travels home."""

import sqlite3
from datetime import timedelta

import pytest

from appliance.core import (
    authority,
    circulation,
    datadir,
    events,
    holds,
    patrons,
    policy,
    verify,
)
from appliance.core.context import Context
from appliance.core.errors import NotFound, Refused
from appliance.core.models import Conflict, Event, Hold, Item, Loan
from sync.receive import TOWN_WIDE
from tests.core.test_rules import due_today, refused
from tests.factories import make_library

# Renewals.


def test_a_renewal_the_same_day_is_refused_and_counts_nothing(ctx):
    loan = circulation.checkout(ctx, "P0001", "1001")
    err = refused("renew_too_early", circulation.renew, ctx, "1001")
    assert err.params["date"] == "/".join(reversed(loan["due_date"].split("-")))
    refused("renew_too_early", circulation.renew, ctx, "1001")
    held = Loan.get_by_id(loan["loan_id"])
    assert held.renewals == 0 and held.due_date == loan["due_date"]


def test_a_renewal_counts_when_it_moves_the_due_date(ctx):
    loan = circulation.checkout(ctx, "P0001", "1001")
    yesterday = ctx.clock.today() - timedelta(days=1)
    Loan.update(due_date=yesterday.isoformat()).where(Loan.id == loan["loan_id"]).execute()
    renewed = circulation.renew(ctx, "1001")
    assert renewed["due_date"] == (ctx.clock.today() + timedelta(days=14)).isoformat()
    assert renewed["renewals_left"] == 1
    assert Loan.get_by_id(loan["loan_id"]).renewals == 1


def test_the_rule_may_open_renewals_only_in_the_last_days(ctx):
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     renew_window_days=3)
    loan = circulation.checkout(ctx, "P0001", "1001")
    opens = ctx.clock.today() + timedelta(days=11)
    err = refused("renew_too_early", circulation.renew, ctx, "1001")
    assert err.params == {"barcode": "1001", "date": opens.strftime("%d/%m/%Y"), "days": 3}
    Loan.update(due_date=(ctx.clock.today() + timedelta(days=2)).isoformat()).where(
        Loan.id == loan["loan_id"]).execute()
    assert circulation.renew(ctx, "1001")["renewals_left"] == 1


def test_renewals_left_says_when_renew_is_no_longer_offered(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    for left in (2, 1, 0):
        loan = Loan.get(Loan.returned_at.is_null())
        assert circulation.renewals_left(loan, "adult", "book") == left
        if left:
            due_today(ctx, "1001")
            circulation.renew(ctx, "1001")


def test_a_hold_a_shelf_copy_can_fill_does_not_stop_a_renewal(ctx):
    catalogue_copy(ctx, "1001", "2001")
    circulation.checkout(ctx, "P0001", "1001")
    holds.place(ctx, "P0002", ctx.bibs[0].id)
    due_today(ctx, "1001")
    assert circulation.renew(ctx, "1001")["renewals_left"] == 1  # 2001 is pulled for it
    circulation.checkout(ctx, "S0001", "2001")
    due_today(ctx, "1001")
    refused("item_on_hold", circulation.renew, ctx, "1001")


def catalogue_copy(ctx, like, barcode):
    from appliance.core import catalogue
    item = Item.get(Item.barcode == like)
    return catalogue.save_item(ctx, {"bib": item.bib_id, "barcode": barcode})


# Holds wait; the pull list; trapping at the desk.


def test_a_hold_on_a_shelf_copy_waits_and_anyone_may_borrow_the_copy(ctx):
    hold = holds.place(ctx, "P0002", ctx.bibs[1].id)
    assert Hold.get_by_id(hold.id).status == "waiting"
    assert Item.get(Item.barcode == "1002").status == "available"
    [(pulled, copy)] = holds.pull_list(ctx.library)
    assert (pulled.id, copy.barcode) == (hold.id, "1002")
    circulation.checkout(ctx, "P0001", "1002")  # taken off the shelf first: it is lent
    assert Hold.get_by_id(hold.id).status == "waiting"
    assert holds.pull_list(ctx.library) == [], "no copy on the shelf to pull now"
    returned = circulation.checkin(ctx, "1002")  # the copy back from that loan is trapped
    assert returned["hold"]["patron"] == "P0002"
    assert Hold.get_by_id(hold.id).status == "ready"


def test_the_desk_scan_traps_a_pulled_copy_and_only_the_holder_may_take_it(ctx):
    hold = holds.place(ctx, "P0002", ctx.bibs[1].id)
    kiosk = circulation.checkin(ctx, "1002")  # a scan that is not the desk's traps nothing
    assert kiosk["hold"] is None and not kiosk["was_on_loan"]
    assert Hold.get_by_id(hold.id).status == "waiting"
    slip = circulation.checkin(ctx, "1002", at_desk=True)["hold"]
    assert slip["patron"] == "P0002" and slip["name"] == "Trần Thị Bình"
    assert slip["library"] == ctx.library and slip["title"] == "Số đỏ"
    assert slip["pickup_by"] >= (ctx.clock.today() + timedelta(days=7)).isoformat()
    assert Item.get(Item.barcode == "1002").status == "on_hold_shelf"
    assert holds.pull_list(ctx.library) == []
    again = circulation.checkin(ctx, "1002", at_desk=True)
    assert again["on_hold_shelf"] and again["hold"] is None, "a second scan traps nothing"
    refused("item_on_hold", circulation.checkout, ctx, "P0001", "1002")
    circulation.checkout(ctx, "P0002", "1002")
    assert Hold.get_by_id(hold.id).status == "fulfilled"


def test_a_holder_who_takes_a_copy_off_the_shelf_fills_the_hold(ctx):
    hold = holds.place(ctx, "P0002", ctx.bibs[1].id)
    circulation.checkout(ctx, "P0002", "1002")
    assert Hold.get_by_id(hold.id).status == "fulfilled"
    assert verify.verify(ctx) == []


# Automatic blocks.


def _overdue(ctx, barcode, days):
    Loan.update(due_date=(ctx.clock.today() - timedelta(days=days)).isoformat()).where(
        (Loan.item == Item.get(Item.barcode == barcode).id) & Loan.returned_at.is_null()
    ).execute()


def test_a_copy_long_overdue_blocks_new_loans_until_it_is_back(ctx):
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     block_overdue_days=10)
    circulation.checkout(ctx, "P0001", "1001")
    _overdue(ctx, "1001", 10)
    circulation.checkout(ctx, "P0001", "1002")  # ten days late: not more than the limit
    _overdue(ctx, "1001", 11)
    err = refused("overdue_too_long", circulation.checkout, ctx, "P0001", "1003")
    assert err.params == {"days": 11, "limit": 10}
    refused("overdue_too_long", holds.place, ctx, "P0001", ctx.bibs[2].id)
    assert [code for code, _, _ in patrons.blocks(ctx, patrons.find(ctx, "P0001"))] == [
        "overdue_too_long"]
    circulation.checkin(ctx, "1001")
    assert patrons.blocks(ctx, patrons.find(ctx, "P0001")) == []
    circulation.checkout(ctx, "P0001", "1003")
    assert not patrons.find(ctx, "P0001").blocked, "computed, never a stored flag"


def test_too_many_overdue_copies_block_the_card(ctx):
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=5, max_renewals=2,
                     block_overdue_days=0, block_overdue_items=2)
    for barcode in ("1001", "1002"):
        circulation.checkout(ctx, "P0001", barcode)
    _overdue(ctx, "1001", 40)  # a long way late, but days are not counted by this rule
    circulation.checkout(ctx, "P0001", "1003")
    _overdue(ctx, "1002", 1)
    err = refused("overdue_too_many", circulation.checkout, ctx, "P0001", "1004")
    assert err.params == {"count": 2, "limit": 2}


def test_the_default_rule_blocks_a_card_a_month_late(ctx):
    policy.delete_rule(ctx, ctx.library, "*", "*")
    circulation.checkout(ctx, "P0001", "1001")
    _overdue(ctx, "1001", 31)
    refused("overdue_too_long", circulation.checkout, ctx, "P0001", "1002")


def test_schema_10_gives_old_rules_the_new_settings(data_dir):
    ctx = make_library(data_dir)
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=7, max_loans=2, max_renewals=1)
    ctx.close()
    con = sqlite3.connect(data_dir / "thuvien.db")
    for column in ("renew_window_days", "block_overdue_days", "block_overdue_items"):
        con.execute(f"ALTER TABLE loan_rule DROP COLUMN {column}")
    con.execute("UPDATE setting SET value = '9' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    ctx = Context.open(data_dir)
    rule = policy.rule_for(ctx.library, "adult", "book")
    assert (rule.loan_days, rule.block_overdue_days, rule.renew_window_days) == (7, 30, 0)
    ctx.close()


# Another library's copy handed in here.

A, B = "PY-DH01", "PY-DH02"


def _events(origin, kinds=None):
    rows = Event.select().where(Event.origin == origin).order_by(Event.seq)
    return [events.to_dict(e) for e in rows if kinds is None or e.kind in kinds]


@pytest.fixture
def town(tmp_path, ctx):
    """Library A (`ctx`, with its copies and cards) and library B, which holds A's
    town-wide records (its copies among them), as the hub relays them."""
    a_dir = ctx.data_dir
    a_origin = ctx.origin
    records = _events(a_origin, TOWN_WIDE)
    ctx.close()
    b = make_library(tmp_path / "b", library=B, name="Thư viện phường Hòa Vinh")
    events.ingest(b, records, relayed=True)
    b_dir, b_origin = b.data_dir, b.origin
    b.close()
    return {"a": a_dir, "b": b_dir, "a_origin": a_origin, "b_origin": b_origin}


def test_a_copy_of_another_library_is_taken_back_and_travels_home(town):
    a = Context.open(town["a"])
    loan = circulation.checkout(a, "P0001", "1001")
    a_events = _events(town["a_origin"])
    a.close()
    b = Context.open(town["b"])
    result = circulation.checkin(b, "1001", actor="thuthu")
    assert result["transit"] == A and result["away"] and result["was_on_loan"]
    assert Item.get(Item.barcode == "1001").status == "in_transit"
    assert Conflict.select().count() == 0, "the loan is not held here: nothing to conflict"
    again = circulation.checkin(b, "1001")
    assert again["transit"] == A and not again["was_on_loan"], "taken once"
    ret = Event.get(Event.kind == "loan.in")
    ret_dict = events.to_dict(ret)
    assert ret.library == A, "routed to the copy's library"
    lookup = authority.batch_lookup([ret_dict])
    assert authority.check(ret_dict, B, lookup) is None, "any desk takes a copy back"
    received = dict(ret_dict, kind="item.received", body={"item_id": ret_dict["body"]["item_id"]})
    assert authority.check(received, B, lookup).code == "other_library", \
        "but only its own library receives it home"
    with pytest.raises(NotFound):
        circulation.renew(b, "1001")  # not a loan this library holds or may change
    b_events = _events(town["b_origin"])
    assert verify.verify(b) == []
    b.close()

    a = Context.open(town["a"])
    events.ingest(a, [e for e in b_events if e["kind"] == "loan.in"], relayed=True)
    closed = Loan.get_by_id(loan["loan_id"])
    assert closed.returned_at is not None and closed.fee == 0
    assert Item.get(Item.barcode == "1001").status == "in_transit"
    home = circulation.checkin(a, "1001", at_desk=True)
    assert home["received"] and not home["was_on_loan"]
    assert Item.get(Item.barcode == "1001").status == "available"
    assert verify.verify(a) == []
    arrived = [e for e in _events(town["a_origin"]) if e["kind"] == "item.received"]
    a.close()

    b = Context.open(town["b"])
    events.ingest(b, arrived, relayed=True)
    assert Item.get(Item.barcode == "1001").status == "available", "B sees it home again"
    b.close()
    assert a_events  # (used by the offline test below)


def test_a_return_taken_offline_before_the_loan_is_known_converges(tmp_path, town):
    """A lends while its link is down; B takes the copy back, also offline. Whichever
    reaches a node first, every node ends with the loan closed the same way."""
    a = Context.open(town["a"])
    circulation.checkout(a, "P0001", "1001")
    a_all = _events(town["a_origin"])
    a.close()
    b = Context.open(town["b"])
    circulation.checkin(b, "1001")
    b_all = _events(town["b_origin"])
    b.close()
    assert a_all[-1]["kind"] == "loan.out"
    setup, lent = a_all[:-1], a_all[-1:]  # the hub held A's copies before B could
    digests = []
    for n, order in enumerate(((setup, lent, b_all), (setup, b_all, lent))):
        hub = datadir.init(tmp_path / f"hub{n}", "PY-HUB", "Thị xã", role="hub")
        for batch in order:
            events.ingest(hub, batch)
        loan = Loan.get()
        assert loan.returned_at is not None, order
        assert Item.get((Item.barcode == "1001") & (Item.library == A)).status == "in_transit"
        assert Conflict.select().count() == 0
        assert verify.verify(hub) == []
        snap = verify.snapshot()  # (each hub made its own library and rules: not compared)
        digests.append({t: snap[t] for t in ("Loan", "Item", "Hold", "Conflict", "Patron")})
        hub.close()
    assert verify.differences(digests[0], digests[1]) == []
    a = Context.open(town["a"])  # A, back online, gets B's return relayed
    events.ingest(a, [e for e in b_all if e["kind"] == "loan.in"], relayed=True)
    assert Loan.get().returned_at is not None
    assert verify.verify(a) == []
    a.close()


def test_a_return_elsewhere_does_not_close_a_loan_made_after_it(town):
    """The copy came home and was lent again before B's return of the earlier loan is
    known: that return closes a loan older than it, never the new one."""
    b = Context.open(town["b"])
    circulation.checkin(b, "1001")
    b_all = _events(town["b_origin"])
    b.close()
    a = Context.open(town["a"])
    later = circulation.checkout(a, "P0001", "1001")
    events.ingest(a, [e for e in b_all if e["kind"] == "loan.in"], relayed=True)
    assert Loan.get_by_id(later["loan_id"]).returned_at is None
    assert Item.get(Item.barcode == "1001").status == "on_loan"
    assert verify.verify(a) == []
    with pytest.raises(Refused):
        circulation.checkout(a, "P0002", "1001")
    a.close()
