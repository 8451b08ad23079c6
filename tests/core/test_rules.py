"""The circulation rules: due dates over closed days, limits, renewals, blocks, expiry,
holds queue, and a clock that runs behind."""

import subprocess
import sys
from datetime import date, timedelta

import pytest

from appliance.core import catalogue, circulation, holds, patrons, policy
from appliance.core.clock import pack
from appliance.core.datadir import save_library
from appliance.core.errors import Invalid, NotFound, Refused
from appliance.core.models import Event, Hold, Item, Loan


def due_today(ctx, barcode):
    """The copy's loan falls due today, as if days had passed: a renewal moves it then."""
    item = Item.get(Item.barcode == barcode)
    Loan.update(due_date=ctx.clock.today().isoformat()).where(
        (Loan.item == item.id) & Loan.returned_at.is_null()).execute()


def refused(code, fn, *args, **kw):
    before = Event.select().count()
    with pytest.raises((Refused, Invalid, NotFound)) as info:
        fn(*args, **kw)
    assert info.value.code == code
    assert Event.select().count() == before, "a refused command must change nothing"
    return info.value


def test_due_date_is_loan_days_ahead(ctx):
    loan = circulation.checkout(ctx, "P0001", "1001")
    assert loan["due_date"] == (ctx.clock.today() + timedelta(days=14)).isoformat()


def test_due_date_skips_closed_days_and_closed_weekdays(ctx):
    today = ctx.clock.today()
    natural = today + timedelta(days=14)
    policy.set_closed(ctx, ctx.library, natural, reason="Tết")
    policy.set_closed(ctx, ctx.library, natural + timedelta(days=1))
    save_library(ctx, ctx.library, "x", closed_weekdays=[(natural + timedelta(days=2)).weekday()])
    loan = circulation.checkout(ctx, "P0001", "1001")
    assert loan["due_date"] == (natural + timedelta(days=3)).isoformat()


def test_due_date_in_library_time_zone():
    # 18:30 UTC on 31 Dec is already 1 January in Hồ Chí Minh City (UTC+7).
    from datetime import datetime, timezone

    from appliance.core.clock import HLC
    ms = int(datetime(2026, 12, 31, 18, 30, tzinfo=timezone.utc).timestamp() * 1000)
    assert HLC(wall=lambda: ms).today() == date(2027, 1, 1)


def test_loan_limit(ctx):
    for barcode in ("1001", "1002", "1003"):
        circulation.checkout(ctx, "P0001", barcode)
    refused("loan_limit", circulation.checkout, ctx, "P0001", "1004")


def test_reference_copies_are_not_lent(ctx):
    refused("item_not_loanable", circulation.checkout, ctx, "P0001", "1005")


def test_item_already_on_loan(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    refused("already_on_loan", circulation.checkout, ctx, "P0001", "1001")
    refused("item_on_loan", circulation.checkout, ctx, "P0002", "1001")


def test_unknown_card_and_barcode(ctx):
    refused("patron_not_found", circulation.checkout, ctx, "NOPE", "1001")
    refused("item_not_found", circulation.checkout, ctx, "P0001", "9999")


def test_blocked_card_cannot_borrow_or_renew(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    patrons.block(ctx, "P0001", "Sách trả muộn")
    refused("patron_blocked", circulation.checkout, ctx, "P0001", "1002")
    refused("patron_blocked", circulation.renew, ctx, "1001")
    patrons.unblock(ctx, "P0001")
    due_today(ctx, "1001")
    assert circulation.renew(ctx, "1001")["renewals_left"] == 1


def test_expired_card(ctx):
    p = patrons.find(ctx, "P0002")
    patrons.save(ctx, {"id": p.id, "expiry": (ctx.clock.today() - timedelta(days=1)).isoformat()})
    refused("patron_expired", circulation.checkout, ctx, "P0002", "1001")


def test_renewal_limit(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    due_today(ctx, "1001")
    assert circulation.renew(ctx, "1001")["renewals_left"] == 1
    due_today(ctx, "1001")
    assert circulation.renew(ctx, "1001")["renewals_left"] == 0
    due_today(ctx, "1001")
    refused("renewal_limit", circulation.renew, ctx, "1001")


def test_renewal_refused_when_someone_waits(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    holds.place(ctx, "P0002", ctx.bibs[0].id)
    refused("item_on_hold", circulation.renew, ctx, "1001")


def test_overdue_fee_at_return(ctx):
    loan = circulation.checkout(ctx, "P0001", "1001")
    Loan.update(due_date=(ctx.clock.today() - timedelta(days=3)).isoformat()).where(
        Loan.id == loan["loan_id"]).execute()
    result = circulation.checkin(ctx, "1001")
    assert result["overdue"] and result["fee"] == 3000


def test_return_of_copy_not_on_loan_records_nothing(ctx):
    before = Event.select().count()
    assert circulation.checkin(ctx, "1002")["was_on_loan"] is False
    assert Event.select().count() == before


def test_holds_queue_in_order_and_pickup_expiry(ctx):
    bib = ctx.bibs[0]
    circulation.checkout(ctx, "P0001", "1001")
    first = holds.place(ctx, "P0002", bib.id)
    second = holds.place(ctx, "S0001", bib.id)
    refused("hold_exists", holds.place, ctx, "P0002", bib.id)
    refused("hold_on_own_loan", holds.place, ctx, "P0001", bib.id)
    result = circulation.checkin(ctx, "1001")
    assert result["hold"]["patron"] == "P0002"
    assert Item.get(Item.barcode == "1001").status == "on_hold_shelf"
    refused("item_on_hold", circulation.checkout, ctx, "S0001", "1001")
    # P0002 does not come: after the pickup day the copy moves to S0001.
    Hold.update(pickup_by=(ctx.clock.today() - timedelta(days=1)).isoformat()).where(
        Hold.id == first.id).execute()
    assert holds.expire_pickups(ctx) == 1
    assert Hold.get_by_id(first.id).status == "expired"
    assert Hold.get_by_id(second.id).status == "ready"
    loan = circulation.checkout(ctx, "S0001", "1001")
    assert Hold.get_by_id(second.id).status == "fulfilled"
    assert loan["item"] == "1001"


def test_cancelling_a_ready_hold_frees_the_copy(ctx):
    hold = holds.place(ctx, "P0002", ctx.bibs[1].id)  # copy on the shelf: pulled, scanned
    circulation.checkin(ctx, "1002", at_desk=True)
    assert Hold.get_by_id(hold.id).status == "ready"
    holds.cancel(ctx, hold.id)
    assert Item.get(Item.barcode == "1002").status == "available"


def test_clock_behind_warns_and_never_gives_a_past_due_date(ctx):
    future = date.today() + timedelta(days=400)
    ms = int(__import__("datetime").datetime(future.year, future.month, future.day, 12)
             .timestamp() * 1000)
    ctx.clock.observe(pack(ms, 0))  # an event from a device whose clock was right
    assert not ctx.clock.clock_ok()  # the Pi booted with an old clock
    loan = circulation.checkout(ctx, "P0001", "1001")
    assert loan["due_date"] >= (future + timedelta(days=14)).isoformat()
    ev = Event.select().order_by(Event.pos.desc()).first()
    assert ev.hlc > pack(ms, 0), "order stays monotonic while the wall clock is behind"


def test_clock_in_1970(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    ctx.clock._wall = lambda: 0  # a Pi without battery clock after a power cut
    assert not ctx.clock.clock_ok()
    loan = circulation.checkout(ctx, "P0001", "1002")
    assert loan["due_date"] > date.today().isoformat()


def test_child_needs_guardian_consent(ctx):
    refused("guardian_required", patrons.save, ctx,
            {"card": "C0002", "name": "Bé Na", "category": "child", "guardian": "Mẹ"})


def test_card_and_barcode_unique_within_library(ctx):
    refused("card_taken", patrons.save, ctx, {"card": "P0001", "name": "X", "category": "adult"})
    refused("barcode_taken", catalogue.save_item, ctx, {"bib": ctx.bibs[0].id, "barcode": "1001"})


def test_bad_isbn_and_year(ctx):
    refused("bad_isbn", catalogue.save_bib, ctx, {"title": "X", "isbn": "9786040000010"})
    refused("bad_year", catalogue.save_bib, ctx, {"title": "X", "year": 99999})
    assert catalogue.save_bib(ctx, {"title": "X", "isbn": "0-306-40615-2"}).isbn == "0306406152"


def test_rule_matrix_most_specific_wins(ctx):
    policy.save_rule(ctx, ctx.library, "child", "*", loan_days=7, max_loans=1, max_renewals=0)
    policy.save_rule(ctx, ctx.library, "child", "periodical", loan_days=3, max_loans=1,
                     max_renewals=0)
    assert policy.rule_for(ctx.library, "child", "book").loan_days == 7
    assert policy.rule_for(ctx.library, "child", "periodical").loan_days == 3
    assert policy.rule_for(ctx.library, "adult", "book").loan_days == 14
    circulation.checkout(ctx, "C0001", "1001")
    refused("loan_limit", circulation.checkout, ctx, "C0001", "1002")


def test_bad_rule_values(ctx):
    refused("bad_number", policy.save_rule, ctx, ctx.library, "*", "*", loan_days="x")
    refused("bad_number", policy.save_rule, ctx, ctx.library, "*", "*", loan_days=-1)
    refused("bad_category", policy.save_rule, ctx, ctx.library, "elf", "*", loan_days=1)


def test_pin_lockout(ctx):
    from appliance.core.errors import Forbidden
    for _ in range(5):
        with pytest.raises(Forbidden) as info:
            patrons.verify_pin(ctx, "P0001", "0000")
        assert info.value.code == "pin_wrong"
    with pytest.raises(Forbidden) as info:
        patrons.verify_pin(ctx, "P0001", "1234")
    assert info.value.code == "pin_locked"


def test_erasing_history_unlinks_returned_loans_only(ctx):
    from appliance.core import verify
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkin(ctx, "1001")
    circulation.checkout(ctx, "P0001", "1002")
    patron = patrons.erase_history(ctx, "P0001")
    loans = list(Loan.select().where(Loan.patron == patron.id))
    assert [loan.item.barcode for loan in loans] == ["1002"], "the open loan stays"
    assert Loan.select().count() == 2, "the returned loan is kept, anonymous"
    assert patrons.find(ctx, "P0001").name == "Nguyễn Văn An"
    anonymous = Loan.get(Loan.patron != patron.id).patron
    refused("patron_not_found", patrons.find, ctx, anonymous.card)  # no one to look up
    refused("patron_not_found", patrons.save, ctx, {"id": anonymous.id, "card": "N0001"})
    assert verify.verify(ctx) == []


def test_housekeeping_moves_expired_pickups_on(ctx):
    import threading

    from appliance.maintenance import Maintenance
    bib = ctx.bibs[1]
    first = holds.place(ctx, "P0002", bib.id)  # on the shelf: pulled and scanned
    second = holds.place(ctx, "S0001", bib.id)
    circulation.checkin(ctx, "1002", at_desk=True)
    Hold.update(pickup_by=(ctx.clock.today() - timedelta(days=1)).isoformat()).where(
        Hold.id == first.id).execute()
    worker = Maintenance(ctx, interval=0.05)
    done = threading.Event()
    worker.start()
    for _ in range(100):
        if Hold.get_by_id(second.id).status == "ready":
            done.set()
            break
        threading.Event().wait(0.05)
    worker.stop()
    worker.join(2)
    assert done.is_set()
    assert Hold.get_by_id(first.id).status == "expired"


def test_two_desks_cannot_lend_the_same_copy_at_once(ctx):
    import threading

    from appliance.core.models import Conflict
    results, start = [], threading.Barrier(4)

    def desk(card):
        start.wait()
        try:
            circulation.checkout(ctx, card, "1001")
            results.append("lent")
        except Refused as e:
            results.append(e.code)

    threads = [threading.Thread(target=desk, args=(card,))
               for card in ("P0001", "P0002", "S0001", "C0001")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results).count("lent") == 1, results
    assert set(results) - {"lent"} <= {"item_on_loan"}
    assert Conflict.select().count() == 0
    assert Loan.select().count() == 1


# Rules and the calendar are kept in memory under a stamp (core/memo.py): a change must
# show at once, whoever makes it, and a change rolled back must leave nothing behind.

def test_a_rule_changed_by_another_process_shows_at_once(ctx, data_dir):
    assert circulation.checkout(ctx, "P0001", "1001")["renewals_left"] == 2  # cached now
    script = ("from appliance.core import policy; from appliance.core.context import Context; "
              f"c = Context.open({str(data_dir)!r}); "
              "policy.save_rule(c, c.library, '*', '*', loan_days=3, max_loans=5, "
              "max_renewals=0); c.close()")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    loan = circulation.checkout(ctx, "P0001", "1002")
    assert loan["renewals_left"] == 0
    assert loan["due_date"] == policy.due_date(ctx.library, ctx.clock.today(), 3).isoformat()


def test_a_calendar_change_rolled_back_leaves_the_old_due_date(ctx):
    from appliance.core import events
    natural = ctx.clock.today() + timedelta(days=14)
    assert policy.due_date(ctx.library, ctx.clock.today(), 14) == natural
    with pytest.raises(RuntimeError), events.writing(ctx):
        policy.set_closed(ctx, ctx.library, natural)
        assert policy.due_date(ctx.library, ctx.clock.today(), 14) > natural  # seen inside
        raise RuntimeError("the desk lost power")
    assert policy.due_date(ctx.library, ctx.clock.today(), 14) == natural
    assert circulation.checkout(ctx, "P0001", "1001")["due_date"] == natural.isoformat()


def test_a_rule_changed_in_a_savepoint_rolled_back_leaves_the_old_rule(ctx):
    """Within one write transaction the stamp read as it began is used until it writes:
    a rule changed and rolled back to a savepoint must not stay in force."""
    from appliance.core import events
    with events.writing(ctx):
        assert policy.rule_for(ctx.library, "adult", "book").max_renewals == 2
        with pytest.raises(RuntimeError), ctx.db.atomic():  # a savepoint
            policy.save_rule(ctx, ctx.library, "*", "*", loan_days=3, max_loans=5,
                             max_renewals=0)
            assert policy.rule_for(ctx.library, "adult", "book").max_renewals == 0
            raise RuntimeError("the form was wrong")
        assert policy.rule_for(ctx.library, "adult", "book").max_renewals == 2
    assert circulation.checkout(ctx, "P0001", "1001")["renewals_left"] == 2
