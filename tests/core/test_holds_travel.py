"""A hold that travels: a patron of library B holds a title only library A has a copy
of; A's pull list shows it, A's trap sends the copy with a transit slip, B's one scan
puts it on B's hold shelf, B lends it to that patron, and it goes home to A when it
comes back. Each step at a branch alone (events relayed by hand, as the hub would);
the authority rule takes exactly these steps and no more."""

from datetime import timedelta

import pytest

from appliance import maintenance
from appliance.core import (
    authority,
    catalogue,
    circulation,
    events,
    holds,
    patrons,
    policy,
    privacy,
    verify,
)
from appliance.core.context import Context
from appliance.core.errors import Forbidden, NotFound, Refused
from appliance.core.models import Conflict, Event, Fee, Hold, Item, Loan
from sync.receive import TOWN_WIDE
from tests.factories import make_library

A, B, C = "PY-DH01", "PY-DH02", "PY-DH03"


def _mine(origin, kinds=None):
    rows = Event.select().where(Event.origin == origin).order_by(Event.seq)
    return [events.to_dict(e) for e in rows if kinds is None or e.kind in kinds]


def _relay(ctx, evs):
    """As the hub relays to a branch of `ctx.library` (cards of other libraries redacted)."""
    events.ingest(ctx, [privacy.for_branch(e, ctx.library) for e in evs], relayed=True)


@pytest.fixture
def town(tmp_path, ctx):
    """A (`ctx`, seeded: "Số đỏ" is copy 1002) and B, with its own card B0001 and no copy
    of anything; each holds the other's town-wide records."""
    a_origin, a_dir = ctx.origin, ctx.data_dir
    # as the hub sends them: it holds A's cards' keys and opens their names for B
    a_records = [privacy.for_branch(e, B) for e in _mine(a_origin, TOWN_WIDE)]
    bib = ctx.bibs[1].id
    ctx.close()
    b = make_library(tmp_path / "b", library=B, name="Thư viện phường Hòa Vinh")
    _relay(b, a_records)
    policy.save_rule(b, B, "*", "*", loan_days=21, max_loans=3, max_renewals=1)
    patrons.save(b, {"card": "B0001", "name": "Lê Thị Bích", "category": "adult",
                     "phone": "0905000001", "expiry": "2030-12-31"})
    patrons.save(b, {"card": "B0002", "name": "Võ Văn Cường", "category": "adult",
                     "expiry": "2030-12-31"})
    b_origin, b_dir = b.origin, b.data_dir
    b_records = [privacy.for_branch(e, A) for e in _mine(b_origin, TOWN_WIDE)]
    b.close()
    a = Context.open(a_dir)
    _relay(a, b_records)
    a.close()
    return {"a": a_dir, "b": b_dir, "a_origin": a_origin, "b_origin": b_origin, "bib": bib}


def _at(town, name):
    return Context.open(town[name])


def _new(town, name, since):
    """The events `name`'s device made after seq `since`."""
    return [e for e in _mine(town[f"{name}_origin"]) if e["seq"] > since]


def _allowed(evs, device_library):
    """The hub's check, on this node's rows: every event allowed."""
    assert authority.screen(evs, device_library, authority.batch_lookup(evs)) == {}


def test_a_hold_at_b_on_as_copy_travels_there_and_back(town):
    b = _at(town, "b")
    b_seq = events.head(b.origin)[0]
    hold = holds.place(b, "B0001", town["bib"])
    assert (hold.library, hold.source, hold.status) == (B, A, "waiting")
    assert holds.pull_list(B) == [], "B has no copy to pull"
    placed = _new(town, "b", b_seq)
    b.close()

    a = _at(town, "a")
    _allowed(placed, B)
    _relay(a, placed)
    [(row, copy)] = holds.pull_list(A)
    assert (row.id, row.library, copy.barcode) == (hold.id, B, "1002")
    assert row.patron.card == "B0001" and row.patron.phone is None, "the card, kept home"
    a_seq = events.head(a.origin)[0]
    result = circulation.checkin(a, "1002", at_desk=True)  # pulled, scanned at Returns
    slip = result["hold"]
    assert slip["sent"] and slip["library"] == B and slip["patron"] == "B0001"
    assert "name" not in slip, "the slip A prints names no one: card and pickup library"
    copy = Item.get((Item.barcode == "1002") & (Item.library == A))
    assert (copy.status, copy.transit_to) == ("in_transit", B)
    assert Hold.get_by_id(hold.id).status == "in_transit"
    assert holds.pull_list(A) == []
    with pytest.raises(Refused):
        circulation.checkout(a, "P0001", "1002")  # on its way: not lent here meanwhile
    sent = _new(town, "a", a_seq)
    assert [e["kind"] for e in sent] == ["hold.sent"] and sent[0]["library"] == B
    _allowed(sent, A)
    with pytest.raises(Forbidden):
        holds.cancel(a, hold.id)  # not A's hold, nor A's card
    assert verify.verify(a) == []
    a.close()

    b = _at(town, "b")
    _relay(b, sent)
    assert Item.get(Item.barcode == "1002").status == "in_transit"
    with pytest.raises(NotFound):
        circulation.checkout(b, "B0001", "1002")  # not here yet: not B's to lend
    b_seq = events.head(b.origin)[0]
    came = circulation.checkin(b, "1002", at_desk=True)  # the van: one scan
    assert came["arrived"] == A and came["hold"]["patron"] == "B0001"
    assert came["hold"]["name"] == "Lê Thị Bích", "B's own card: its hold slip"
    ready = Hold.get_by_id(hold.id)
    assert ready.status == "ready" and ready.pickup_by
    copy = Item.get(Item.barcode == "1002")
    assert (copy.status, copy.transit_to) == ("on_hold_shelf", None)
    again = circulation.checkin(b, "1002", at_desk=True)
    assert again.get("on_hold_shelf"), "a second scan takes nothing again"
    with pytest.raises(Refused):
        circulation.checkout(b, "B0002", "1002")  # someone else: on hold for B0001
    lent = circulation.checkout(b, "B0001", "1002")
    assert Hold.get_by_id(hold.id).status == "fulfilled"
    loan = Loan.get_by_id(lent["loan_id"])
    assert (loan.library, loan.pickup) == (A, B)
    assert Item.get(Item.barcode == "1002").status == "on_loan"
    steps = _new(town, "b", b_seq)
    assert [e["kind"] for e in steps] == ["hold.trapped", "loan.out"]
    assert steps[1]["library"] == A and steps[1]["body"]["pickup"] == B
    assert verify.verify(b) == []
    returned = circulation.checkin(b, "1002", at_desk=True)  # back at B: home to A
    assert returned["was_on_loan"] and returned["transit"] == A
    back = _new(town, "b", b_seq)[2:]
    b.close()

    a = _at(town, "a")
    _allowed(steps + back, B)
    _relay(a, steps + back)
    assert Loan.get_by_id(lent["loan_id"]).returned_at is not None
    assert Hold.get_by_id(hold.id).status == "fulfilled"
    home = circulation.checkin(a, "1002", at_desk=True)  # one scan at home
    assert home["received"]
    assert Item.get((Item.barcode == "1002") & (Item.library == A)).status == "available"
    assert verify.verify(a) == []
    a.close()


def _placed_at_b(town):
    """B places the hold (asked of A, which holds the only copy): the hold and its events."""
    b = _at(town, "b")
    b_seq = events.head(b.origin)[0]
    hold = holds.place(b, "B0001", town["bib"])
    placed = _new(town, "b", b_seq)
    b.close()
    return hold, placed


def _placed_at_b_and_sent_by_a(town):
    """B places the hold; A, having heard of it, traps its copy and sends it: the hold and
    the events each made."""
    hold, placed = _placed_at_b(town)
    a = _at(town, "a")
    _relay(a, placed)
    a_seq = events.head(a.origin)[0]
    circulation.checkin(a, "1002", at_desk=True)
    sent = _new(town, "a", a_seq)
    a.close()
    return hold, placed, sent


def test_the_copy_arrives_at_b_before_the_sending_is_known_there(town, tmp_path):
    """B's link is down: the van brings the copy before A's `hold.sent` reaches B. B's
    scan still puts it on the hold shelf (the hold names A), and when the sending comes
    the state is what the other order gives."""
    hold, placed, sent = _placed_at_b_and_sent_by_a(town)
    b = _at(town, "b")
    b_seq = events.head(b.origin)[0]
    came = circulation.checkin(b, "1002", at_desk=True)
    assert came["arrived"] == A and Hold.get_by_id(hold.id).status == "ready"
    trapped = _new(town, "b", b_seq)
    _relay(b, sent)  # the link is back
    late = (Hold.get_by_id(hold.id), Item.get(Item.barcode == "1002"))
    assert late[0].status == "ready" and late[1].status == "on_hold_shelf"
    assert verify.verify(b) == []
    b.close()
    everything = _mine_of(town, "a") + _mine_of(town, "b")
    states = []
    for n, order in enumerate(([*placed, *sent, *trapped], [*placed, *trapped, *sent])):
        hub = make_library(tmp_path / f"hub{n}", library="PY-HUB", name="Thị xã", role="hub")
        events.ingest(hub, [e for e in everything if e["id"] not in {x["id"] for x in order}])
        for e in order:
            events.ingest(hub, [e])
        h, i = Hold.get_by_id(hold.id), Item.get((Item.barcode == "1002") & (Item.library == A))
        states.append((h.status, h.item_id, h.pickup_by, i.status, i.transit_to))
        assert verify.verify(hub) == []
        hub.close()
    assert states[0] == states[1] and states[0][0] == "ready"


def _mine_of(town, name):
    ctx = _at(town, name)
    try:
        return _mine(town[f"{name}_origin"])
    finally:
        ctx.close()


def test_a_hold_cancelled_at_b_after_its_copy_was_sent_sends_it_home(town):
    hold, placed, sent = _placed_at_b_and_sent_by_a(town)
    b = _at(town, "b")
    _relay(b, sent)
    b_seq = events.head(b.origin)[0]
    holds.cancel(b, hold.id)
    cancelled = _new(town, "b", b_seq)
    assert cancelled[0]["body"]["transit_to"] == A
    assert Item.get(Item.barcode == "1002").transit_to == A
    came = circulation.checkin(b, "1002", at_desk=True)  # it came anyway: back home
    assert came["transit"] == A and not came["was_on_loan"]
    b.close()
    a = _at(town, "a")
    _allowed(cancelled, B)
    _relay(a, cancelled)
    assert circulation.checkin(a, "1002", at_desk=True)["received"]
    assert Item.get((Item.barcode == "1002") & (Item.library == A)).status == "available"
    a.close()


def _desk_scan(ctx, barcode):
    """The Returns page after a scan at the desk (in Vietnamese, as staff read it)."""
    from appliance.core import users
    from appliance.web import create_app
    from tests.conftest import csrf_token, staff_login
    from tests.factories import PASSWORD

    users.create(ctx, "thuthu", PASSWORD, "librarian")
    client = create_app(ctx, testing=True).test_client()
    staff_login(client)
    r = client.post("/desk/checkin", data={"csrf_token": csrf_token(client, "/desk/checkin"),
                                           "barcode": barcode})
    return r.get_data(as_text=True)


@pytest.mark.parametrize("heard", [False, True], ids=["sending-unheard", "heard-after"])
def test_a_hold_cancelled_at_b_before_it_heard_of_the_sending_sends_the_copy_home(
        town, tmp_path, heard):
    """The patron cancels at B while A's sending is still on its way to B (B's link is
    down; or the sending is heard after the cancel): the van brings a copy nobody at B
    waits for. B's scan says it goes back to A and sends it, as a hold's end sends home a
    copy known to have come for it: no return of a loan is made up, and A, whose copy
    was lent and returned before, sees no second return of that loan."""

    a = _at(town, "a")
    circulation.checkout(a, "P0001", "1002")
    circulation.checkin(a, "1002")
    a.close()
    hold, placed, sent = _placed_at_b_and_sent_by_a(town)
    b = _at(town, "b")
    b_seq = events.head(b.origin)[0]
    holds.cancel(b, hold.id)
    if heard:
        _relay(b, sent)
        assert Item.get(Item.barcode == "1002").transit_to == B
    page = _desk_scan(b, "1002")  # the van
    assert "đã bị hủy: ở đây không còn ai chờ. Sách được gửi trả về" in page
    assert 'id="transit-slip"' in page and "Phiếu chuyển sách" in page
    came = circulation.checkin(b, "1002", at_desk=True)  # scanned again
    assert came["transit"] == A and not came["was_on_loan"] and "hold_ended" not in came
    assert Item.get(Item.barcode == "1002").transit_to == A
    ended = _new(town, "b", b_seq)
    assert [(e["kind"], e["body"].get("transit_to")) for e in ended] == [
        ("hold.cancelled", None), ("hold.cancelled", A)]
    _relay(b, sent)  # the link is back: the sending, older, changes nothing
    assert Item.get(Item.barcode == "1002").transit_to == A
    assert Hold.get_by_id(hold.id).status == "cancelled"
    assert verify.verify(b) == []
    b.close()

    a = _at(town, "a")
    _allowed(ended, B)
    _relay(a, ended)
    assert Item.get((Item.barcode == "1002") & (Item.library == A)).transit_to == A
    assert not Conflict.select().exists(), "no loan returned twice"
    assert circulation.checkin(a, "1002", at_desk=True)["received"]
    assert Item.get((Item.barcode == "1002") & (Item.library == A)).status == "available"
    assert verify.verify(a) == []
    a.close()

    # at the hub, in both orders: A's sending, and B's cancel and scan
    assert _at_hub_both_ways(town, tmp_path, hold, sent, ended) == [
        ("cancelled", "in_transit", A, 0)] * 2


def _at_hub_both_ways(town, tmp_path, hold, sent, b_made):
    """The hold and A's copy (status, where it goes, conflicts) at a hub given A's sending
    and B's events in each order, after what both held before."""
    firsts = {sent[0]["origin"]: sent[0]["seq"], b_made[0]["origin"]: b_made[0]["seq"]}
    before = [e for e in _mine_of(town, "a") + _mine_of(town, "b")
              if e["seq"] < firsts[e["origin"]]]
    states = []
    for n, order in enumerate(([*sent, *b_made], [*b_made, *sent])):
        hub = make_library(tmp_path / f"hub{n}", library="PY-HUB", name="Thị xã", role="hub")
        events.ingest(hub, before)
        for e in order:
            events.ingest(hub, [e])
        h, i = Hold.get_by_id(hold.id), Item.get((Item.barcode == "1002") & (Item.library == A))
        states.append((h.status, i.status, i.transit_to, Conflict.select().count()))
        assert verify.verify(hub) == []
        hub.close()
    return states


def _fulfilled_at_b_with_its_own_copy(town, heard):
    """B's hold asked of A, A's copy sent; B then has a copy of its own (bought since),
    and the patron borrows it at B's desk before A's copy comes (`heard`: B knew of the
    sending by then). The hold's events, A's and B's."""
    hold, placed, sent = _placed_at_b_and_sent_by_a(town)
    b = _at(town, "b")
    if heard:
        _relay(b, sent)
    b_seq = events.head(b.origin)[0]
    catalogue.save_item(b, {"bib": town["bib"], "barcode": "B-0901"})
    lent = circulation.checkout(b, "B0001", "B-0901")
    assert Hold.get_by_id(hold.id).status == "fulfilled", "the loan fills the patron's hold"
    filled = _new(town, "b", b_seq)
    b.close()
    return hold, placed, sent, filled, lent


@pytest.mark.parametrize("heard", [False, True], ids=["sending-unheard", "heard-before"])
def test_a_hold_filled_at_b_by_its_own_copy_ends_fulfilled_everywhere_and_as_copy_goes_home(
        town, tmp_path, heard):
    """The patron got the book at B: the hold ends fulfilled at B, at A (which asked
    nothing of a loan of B's copy) and at the hub, whichever order the events meet in;
    A's copy, come anyway, goes home from B's one scan with a transit slip."""

    hold, placed, sent, filled, lent = _fulfilled_at_b_with_its_own_copy(town, heard)
    b = _at(town, "b")
    b_seq = events.head(b.origin)[0]
    page = _desk_scan(b, "1002")  # the van
    assert ("bạn đọc đã được đáp ứng bằng bản sách khác: ở đây không còn ai chờ. Sách được "
            "gửi trả về") in page
    assert 'id="transit-slip"' in page and "Phiếu chuyển sách" in page
    came = circulation.checkin(b, "1002", at_desk=True)  # scanned again
    assert came["transit"] == A and not came["was_on_loan"] and "hold_ended" not in came
    if not heard:
        _relay(b, sent)  # the link is back: the sending, older, changes nothing
    home = _new(town, "b", b_seq)
    assert [e["kind"] for e in home] == ["hold.fulfilled"]
    assert (home[0]["body"]["item_id"], home[0]["body"]["transit_to"]) == (
        Item.get(Item.barcode == "1002").id, A)
    assert Hold.get_by_id(hold.id).status == "fulfilled"
    assert Item.get(Item.barcode == "1002").transit_to == A
    assert Loan.get_by_id(lent["loan_id"]).returned_at is None
    assert verify.verify(b) == []
    b.close()

    a = _at(town, "a")
    b_made = filled + home
    _allowed(b_made, B)
    _relay(a, [e for e in b_made if e["kind"] in (*TOWN_WIDE, "hold.fulfilled")])
    assert Hold.get_by_id(hold.id).status == "fulfilled", "not cancelled: the patron has it"
    assert circulation.checkin(a, "1002", at_desk=True)["received"]
    assert Item.get((Item.barcode == "1002") & (Item.library == A)).status == "available"
    assert not Conflict.select().exists()
    assert verify.verify(a) == []
    a.close()

    # at the hub, in both orders: A's sending, and B's loan and scan
    assert _at_hub_both_ways(town, tmp_path, hold, sent, b_made) == [
        ("fulfilled", "in_transit", A, 0)] * 2


def test_a_hold_filled_at_b_before_a_sends_leaves_as_pull_list(town):
    """A has not sent yet: its pull list drops the hold once it hears B filled it, and a
    copy of A scanned at its desk stays on its shelf."""
    b = _at(town, "b")
    b_seq = events.head(b.origin)[0]
    hold = holds.place(b, "B0001", town["bib"])
    catalogue.save_item(b, {"bib": town["bib"], "barcode": "B-0901"})
    circulation.checkout(b, "B0001", "B-0901")
    made = _new(town, "b", b_seq)
    assert "hold.fulfilled" in [e["kind"] for e in made], "A learns of the end"
    b.close()
    a = _at(town, "a")
    _allowed(made, B)
    _relay(a, [e for e in made if e["kind"] in (*TOWN_WIDE, "hold.placed", "hold.fulfilled")])
    assert Hold.get_by_id(hold.id).status == "fulfilled"
    assert holds.pull_list(A) == []
    assert circulation.checkin(a, "1002", at_desk=True)["hold"] is None
    assert Item.get((Item.barcode == "1002") & (Item.library == A)).status == "available"
    a.close()


def test_a_hold_whose_source_can_lend_no_copy_is_asked_again_where_one_can(town):
    """A withdraws its only copy: B's hold asked of A waits (no other library can lend
    one) until B has a copy of its own, then joins B's own queue, keeping its place; A
    hears its asking ended and its pull list drops it. Asking again twice changes
    nothing more."""
    hold, placed = _placed_at_b(town)
    a = _at(town, "a")
    _relay(a, placed)
    a_seq = events.head(a.origin)[0]
    catalogue.set_status(a, "1002", "withdrawn")
    withdrawn = _new(town, "a", a_seq)
    assert holds.pull_list(A) == []
    a.close()

    b = _at(town, "b")
    _relay(b, withdrawn)
    assert [h.id for h in holds.stranded(B)] == [hold.id]
    b_seq = events.head(b.origin)[0]
    assert holds.reask(b) == 0, "no library can lend one: it waits, asked of A"
    assert Hold.get_by_id(hold.id).status == "waiting" and _new(town, "b", b_seq) == []
    catalogue.save_item(b, {"bib": town["bib"], "barcode": "B-0901"})
    asked_seq = events.head(b.origin)[0]
    maintenance.run_once(b)  # the housekeeping round asks again, no button pressed
    made = _new(town, "b", asked_seq)
    assert [e["kind"] for e in made] == ["hold.cancelled", "hold.placed"]
    again = Hold.get_by_id(made[1]["body"]["hold_id"])
    assert (again.status, again.source, again.library, again.patron_id, again.placed_at) == (
        "waiting", None, B, hold.patron_id, hold.placed_at), "its place in B's queue kept"
    assert Hold.get_by_id(hold.id).status == "cancelled"
    [(row, copy)] = holds.pull_list(B)
    assert (row.id, copy.barcode) == (again.id, "B-0901")
    assert holds.reask(b) == 0 and holds.stranded(B) == []
    assert verify.verify(b) == []
    b.close()

    a = _at(town, "a")
    _allowed(made, B)
    _relay(a, made[:1])  # as the hub relays: the end of the hold asked of A
    assert Hold.get_by_id(hold.id).status == "cancelled" and holds.pull_list(A) == []
    a.close()


def test_a_copy_of_a_handed_in_at_b_long_after_bs_hold_for_it_was_cancelled_is_a_return(
        town):
    """A hold cancelled at B weeks ago, nothing sent: a copy of that record of A handed in
    at B now is a patron's return (the loan is closed at A), not the hold's copy."""
    b = _at(town, "b")
    hold = holds.place(b, "B0001", town["bib"])
    holds.cancel(b, hold.id)
    weeks_ago = (b.clock.today() - timedelta(days=holds.CROSSING_DAYS + 1)).isoformat()
    Hold.update(placed_at=weeks_ago).where(Hold.id == hold.id).execute()
    handed = circulation.checkin(b, "1002", at_desk=True)
    assert handed["away"] and handed["was_on_loan"] and "hold_ended" not in handed
    b.close()


def _lent_at_b(town):
    """The copy sent, received at B and lent there to B0001: the loan and the events B
    made for it (the hold's trap and the loan)."""
    hold, placed, sent = _placed_at_b_and_sent_by_a(town)
    b = _at(town, "b")
    _relay(b, sent)
    b_seq = events.head(b.origin)[0]
    circulation.checkin(b, "1002", at_desk=True)
    lent = circulation.checkout(b, "B0001", "1002")
    made = _new(town, "b", b_seq)
    b.close()
    return lent, placed + sent, made


def _due_today(ctx, loan_id):
    """As if the loan's days had passed: a renewal then moves the date (circulation.renew).
    State changed behind the log: the renewal that follows puts it right for `verify`."""
    Loan.update(due_date=ctx.clock.today().isoformat()).where(Loan.id == loan_id).execute()


def test_a_loan_picked_up_at_b_is_renewed_at_b_on_bs_rules_and_a_hears_of_it(town):
    lent, before, made = _lent_at_b(town)
    b = _at(town, "b")
    _due_today(b, lent["loan_id"])
    b_seq = events.head(b.origin)[0]
    renewed = circulation.renew(b, "1002", actor="thuthu")
    today = b.clock.today()
    assert renewed["due_date"] == policy.due_date(B, today, 21).isoformat(), "B's 21 days"
    assert renewed["renewals_left"] == 0, "B's rule: one renewal"
    with pytest.raises(Refused) as limit:
        circulation.renew(b, "1002")
    assert limit.value.code == "renewal_limit"
    with pytest.raises(Refused) as other:
        circulation.renew(b, "1002", patron_card="B0002")  # the OPAC, another reader
    assert other.value.code == "not_your_loan"
    renewal = _new(town, "b", b_seq)
    assert [(e["kind"], e["library"]) for e in renewal] == [("loan.renew", A)]
    assert verify.verify(b) == []
    b.close()

    a = _at(town, "a")
    _allowed(made + renewal, B)  # lent and renewed offline: one batch
    _relay(a, made + renewal)
    loan = Loan.get_by_id(lent["loan_id"])
    assert (loan.due_date, loan.renewals) == (renewed["due_date"], 1), "A's due date agrees"
    with pytest.raises(Refused) as where:
        circulation.renew(a, "1002")  # A does not hold B's rules: renewed where lent
    assert where.value.code == "renew_where_lent"
    a.close()


def test_a_loan_picked_up_at_b_and_returned_late_there_is_charged_by_no_one(town):
    """Only the copy's library charges for its copy (core/fees/rules.py): B, taking back
    late the copy A sent it for a hold, charges no overdue fee, even when it holds A's
    rule with a daily fee (branches pull their own rules only; it is given here), so the
    hub's check takes all B made. A, applying that return, charges none either."""
    lent, _before, made = _lent_at_b(town)
    a = _at(town, "a")
    rules = _mine(town["a_origin"], ("rule.saved",))  # A's: 1.000 ₫ a day
    a.close()
    b = _at(town, "b")
    _relay(b, rules)
    wall = b.clock._wall
    b.clock._wall = lambda: wall() + 30 * 24 * 3600 * 1000  # back a month on
    b_seq = events.head(b.origin)[0]
    back = circulation.checkin(b, "1002", at_desk=True)
    assert back["was_on_loan"] and back["fee"] > 0 and back["fee_id"] is None
    returned = _new(town, "b", b_seq)
    assert [e["kind"] for e in returned] == ["loan.in"]
    assert not Fee.select().exists()
    b.close()

    a = _at(town, "a")
    _allowed(made + returned, B)
    _relay(a, made + returned)
    assert Loan.get_by_id(lent["loan_id"]).fee == back["fee"]  # the loan keeps what B said
    assert not Fee.select().exists()
    assert verify.verify(a) == []
    a.close()


def test_the_opac_of_b_renews_its_readers_loan_of_as_copy(town):
    from appliance.web import create_app
    from tests.conftest import csrf_token

    lent, _, _ = _lent_at_b(town)
    b = _at(town, "b")
    _due_today(b, lent["loan_id"])
    patrons.save(b, {"id": patrons.find(b, "B0001").id, "pin": "2468"})
    client = create_app(b, testing=True).test_client()
    client.post("/opac/login", data={"csrf_token": csrf_token(client, "/opac/login"),
                                     "card": "B0001", "pin": "2468"})
    client.post("/opac/account/renew", data={
        "csrf_token": csrf_token(client, "/opac/account"), "barcode": "1002"})
    assert Loan.get_by_id(lent["loan_id"]).renewals == 1
    b.close()


def test_the_hub_routes_a_return_to_the_pickup_library_by_its_loan_not_its_clock(
        town, tmp_path):
    """B's loan of A's copy is handed in at C (a return naming the copy only) and reaches
    B; an unrelated return at A, of another copy, made at the same clock value, does not."""
    from sync.receive import concerns

    a = _at(town, "a")
    other = circulation.checkout(a, "P0001", "1001")
    a.close()
    lent, before, made = _lent_at_b(town)
    town_wide = _mine_of(town, "a") + _mine_of(town, "b")
    c = make_library(tmp_path / "c", library=C, name="Thư viện phường Hòa Xuân")
    _relay(c, [e for e in town_wide if e["kind"] in TOWN_WIDE])
    c_seq = events.head(c.origin)[0]
    assert circulation.checkin(c, "1002")["away"]
    [away] = [e for e in _mine(c.origin) if e["seq"] > c_seq]
    handed_in = _mine(c.origin)
    c.close()
    a = _at(town, "a")
    a_seq = events.head(a.origin)[0]
    circulation.checkin(a, "1001")
    [unrelated] = _new(town, "a", a_seq)
    a.close()
    assert unrelated["kind"] == "loan.in" and unrelated["body"]["loan_id"] == other["loan_id"]
    unrelated["hlc"] = away["hlc"]  # the rare clash of two clocks
    unrelated["hash"] = events.event_hash(unrelated)

    everything = _mine_of(town, "a")[:-1] + [unrelated] + _mine_of(town, "b") + handed_in
    hub = make_library(tmp_path / "hub", library="PY-HUB", name="Thị xã", role="hub")
    events.ingest(hub, everything)
    assert Loan.get_by_id(lent["loan_id"]).return_hlc == away["hlc"]
    to_b = {e.id for e in Event.select(Event.id).where(concerns(B) & (Event.kind == "loan.in"))}
    assert to_b == {away["id"]}, "C's return of B's loan, not A's own return"
    hub.close()


def test_a_hold_with_a_copy_here_waits_here(ctx):
    hold = holds.place(ctx, "P0001", ctx.bibs[1].id)
    assert hold.source is None and hold.library == ctx.library


# The rule: exactly the steps of a travelling hold, nothing broader.

ROWS = {
    ("patron", "pa"): {"library": A}, ("patron", "pb"): {"library": B},
    ("item", "ia"): {"library": A}, ("item", "ib"): {"library": B},
    ("item", "ic"): {"library": C}, ("item", "ia2"): {"library": A},
    # B's hold, picked up at B, a copy asked of A; and one of B's own queue
    ("hold", "hx"): {"library": B, "source": A, "patron_id": "pb", "patron_library": B,
                     "item_id": "ia"},
    ("hold", "hl"): {"library": B, "source": None, "patron_id": "pb", "patron_library": B},
    # loans of A's copy: to C's card picked up at B; to C's card lent at A; at C
    ("loan", "lb"): {"library": A, "patron_library": C, "pickup": B},
    ("loan", "la"): {"library": A, "patron_library": C, "pickup": None},
    ("loan", "lc"): {"library": A, "patron_library": C, "pickup": C},
}


def lookup(table, key):
    return ROWS.get((table, key))


def ev(kind, routed, **body):
    return {"id": "e", "kind": kind, "library": routed, "body": body}


LOAN = {"item_id": "ia", "patron_id": "pb", "library": A}
CASES = [
    # (device, event, refusal code or None)
    (B, ev("hold.placed", B, library=B, patron_id="pb", bib_id="r", source=A), None),
    (B, ev("hold.placed", B, library=B, patron_id="pb", bib_id="r", source=B), "bad_source"),
    (A, ev("hold.sent", B, hold_id="hx", item_id="ia", transit_to=B), None),
    (A, ev("hold.sent", B, hold_id="hx", item_id="ia", transit_to=C), "other_library"),
    (A, ev("hold.sent", A, hold_id="hx", item_id="ia", transit_to=B), "library_mismatch"),
    (A, ev("hold.sent", B, hold_id="hx", item_id="ib", transit_to=B), "other_library"),
    (C, ev("hold.sent", B, hold_id="hx", item_id="ic", transit_to=B), "other_library"),
    (A, ev("hold.sent", B, hold_id="hl", item_id="ia", transit_to=B), "other_library"),
    (B, ev("hold.trapped", B, hold_id="hx", item_id="ia", pickup_by="d", received=True), None),
    (B, ev("hold.trapped", B, hold_id="hx", item_id="ic", pickup_by="d"), "other_library"),
    (B, ev("hold.trapped", B, hold_id="hl", item_id="ia", pickup_by="d"), "other_library"),
    (A, ev("hold.trapped", B, hold_id="hx", item_id="ia", pickup_by="d"), "other_library"),
    (A, ev("hold.cancelled", B, hold_id="hx"), "other_library"),
    (A, ev("hold.expired", B, hold_id="hx"), "other_library"),
    (B, ev("hold.cancelled", B, hold_id="hx", item_id="ia", transit_to=A), None),
    (B, ev("hold.expired", B, hold_id="hx", item_id="ia", transit_to=A), None),
    (B, ev("hold.expired", B, hold_id="hx", item_id="ia", transit_to=C), "other_library"),
    (B, ev("hold.cancelled", B, hold_id="hx", item_id="ic", transit_to=C), "other_library"),
    (B, ev("hold.cancelled", B, hold_id="hl", transit_to=C), "other_library"),
    # filled at B with a copy of its own: said to A; A's copy, come anyway, goes home
    (B, ev("hold.fulfilled", B, hold_id="hx"), None),
    (B, ev("hold.fulfilled", B, hold_id="hx", item_id="ia", transit_to=A), None),
    (B, ev("hold.fulfilled", B, hold_id="hx", item_id="ia", transit_to=C), "other_library"),
    (B, ev("hold.fulfilled", B, hold_id="hx", item_id="ic", transit_to=C), "other_library"),
    (B, ev("hold.fulfilled", A, hold_id="hx"), "library_mismatch"),
    (A, ev("hold.fulfilled", B, hold_id="hx"), "other_library"),  # the source says nothing
    (C, ev("hold.fulfilled", B, hold_id="hx"), "other_library"),
    (B, ev("loan.out", A, **LOAN, hold_id="hx", pickup=B), None),
    (B, ev("loan.out", A, **LOAN), "other_library"),  # not sent for a hold
    (B, ev("loan.out", A, **dict(LOAN, item_id="ia2"), hold_id="hx", pickup=B),
     "other_library"),  # another copy of A than the one sent
    (B, ev("loan.out", A, **LOAN, hold_id="hx"), "other_library"),  # no pickup said
    (B, ev("loan.out", A, **dict(LOAN, patron_id="pa"), hold_id="hx", pickup=B),
     "other_library"),  # another patron than the hold's
    (B, ev("loan.out", A, **LOAN, hold_id="hl", pickup=B), "other_library"),
    (B, ev("loan.out", A, **dict(LOAN, item_id="ic", library=C), hold_id="hx", pickup=B),
     "other_library"),
    (B, ev("loan.out", B, **LOAN, hold_id="hx", pickup=B), "library_mismatch"),
    (C, ev("loan.out", A, **LOAN, hold_id="hx", pickup=C), "other_library"),
    (A, ev("loan.out", A, **LOAN, pickup=C), "other_library"),  # routing a loan elsewhere
    (A, ev("loan.out", A, **LOAN), None),
    (B, ev("loan.renew", A, loan_id="lb", due_date="d"), None),  # lent at B: renewed there
    (B, ev("loan.renew", B, loan_id="lb", due_date="d"), "library_mismatch"),
    (A, ev("loan.renew", A, loan_id="lb", due_date="d"), None),  # the copy's library
    (B, ev("loan.renew", A, loan_id="la", due_date="d"), "other_library"),  # not B's
    (B, ev("loan.renew", A, loan_id="lc", due_date="d"), "other_library"),  # C's pickup
    (C, ev("loan.renew", A, loan_id="lc", due_date="d"), None),
]


@pytest.mark.parametrize("device,event,code", CASES, ids=[
    f"{i}-{d}-{e['kind']}" for i, (d, e, _) in enumerate(CASES)])
def test_the_rule_takes_a_travelling_holds_steps_and_no_more(device, event, code):
    reason = authority.check(event, device, lookup)
    assert (reason.code if reason else None) == code, reason


def test_the_opac_of_b_places_a_travelling_hold_for_its_reader(town):
    """A reader of B signed in at B's OPAC holds the record only A has: picked up at B."""
    from appliance.web import create_app
    from tests.conftest import csrf_token

    b = _at(town, "b")
    patrons.save(b, {"id": patrons.find(b, "B0002").id, "pin": "2468"})
    client = create_app(b, testing=True).test_client()
    r = client.post("/opac/login", data={"csrf_token": csrf_token(client, "/opac/login"),
                                         "card": "B0002", "pin": "2468"})
    assert r.status_code == 302
    r = client.post("/opac/hold", data={"csrf_token": csrf_token(client, "/opac/account"),
                                        "bib_id": town["bib"]}, follow_redirects=True)
    hold = Hold.get()
    assert (hold.library, hold.source, hold.patron.card) == (B, A, "B0002")
    assert "Số đỏ" in client.get("/opac/account").get_data(as_text=True)
    b.close()
