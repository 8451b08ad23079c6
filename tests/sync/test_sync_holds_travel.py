"""A hold that travels, through a real hub on loopback (SQLite and PostgreSQL): B's patron
holds a record only A has a copy of; after a sync A's pull list shows it, A's trap sends
the copy, B receives it with one scan and lends it, the patron hands it in at C, and it
goes home to A; B renews the loan it made, and A's due date agrees. Each step at a branch
alone, completed by the next sync; the hub routes each step to the libraries it concerns
(the hold to A, the loan and its return to B, B's renewal to A) and no further; a forged
B that lends another copy of A, or renews a loan of A it did not make, is quarantined."""

import re
import uuid
from types import SimpleNamespace

import pytest

from appliance.core import catalogue, circulation, events, holds, shelves, users
from appliance.core.authority import Quarantine
from appliance.core.models import Event, Hold, Item, Loan, Patron
from appliance.core.verify import verify
from appliance.web import create_app
from sync import agent, enrol, usb
from tests.conftest import PASSWORD, Server, staff_login
from tests.sync.syncsupport import (
    HubProcess,
    enrol_all,
    hub_database,
    init,
    make_town,
    opened,
    seed,
)

A, B, C = "PY-DH01", "PY-DH02", "PY-DH03"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def town(request, tmp_path):
    with hub_database(request.param) as url:
        hub_dir, branches, tokens = make_town(tmp_path, (A, B, C), hub_db=url)
        with HubProcess(hub_dir) as hub:
            enrol_all(hub.url, branches, tokens)
            with opened(branches[A]) as ctx:
                _, codes = seed(ctx, n_items=2, n_patrons=1)
                bib_id = Item.get(Item.barcode == codes[0]).bib_id
                agent.run_once(ctx)
            with opened(branches[C]) as ctx:
                seed(ctx, n_items=0, n_patrons=1)
                agent.run_once(ctx)
            with opened(branches[B]) as ctx:
                cards, _ = seed(ctx, n_items=0, n_patrons=2)
                agent.run_once(ctx)
            yield SimpleNamespace(hub_dir=hub_dir, a=branches[A], b=branches[B],
                                  c=branches[C], codes=codes, bib_id=bib_id, cards=cards,
                                  url=hub.url, tmp_path=tmp_path)


def _kinds(origin):
    return [e.kind for e in Event.select().where(Event.origin == origin).order_by(Event.pos)]


def test_a_hold_at_b_on_as_copy_travels_through_the_hub(town):
    copy = town.codes[0]
    with opened(town.b) as b:
        hold = holds.place(b, town.cards[0], town.bib_id)
        assert hold.source == A
        b_origin = b.origin
        agent.run_once(b)

    with opened(town.a) as a:
        assert holds.pull_list(A) == [], "before the sync A knows nothing of it"
        agent.run_once(a)
        [(row, pulled)] = holds.pull_list(A)
        assert (row.id, row.library, pulled.barcode) == (hold.id, B, copy)
        card = Patron.get_by_id(row.patron_id)
        assert card.card == town.cards[0] and card.phone is None and card.pin_hash is None
        sent = circulation.checkin(a, copy, at_desk=True)["hold"]
        assert sent["sent"] and sent["library"] == B
        a_origin = a.origin
        agent.run_once(a)

    with opened(town.b) as b:
        agent.run_once(b)
        assert Hold.get_by_id(hold.id).status == "in_transit"
        assert Item.get(Item.barcode == copy).status == "in_transit"
        came = circulation.checkin(b, copy, at_desk=True)
        assert came["arrived"] == A and Hold.get_by_id(hold.id).status == "ready"
        lent = circulation.checkout(b, town.cards[0], copy)
        agent.run_once(b)
        assert verify(b) == []

    with opened(town.a) as a:
        agent.run_once(a)
        assert Hold.get_by_id(hold.id).status == "fulfilled"
        assert Loan.get_by_id(lent["loan_id"]).pickup == B
        assert Item.get(Item.barcode == copy).status == "on_loan"

    with opened(town.b) as b:  # days later, the patron asks B for more time
        Loan.update(due_date=b.clock.today().isoformat()).where(
            Loan.id == lent["loan_id"]).execute()  # (the renewal puts the log right)
        renewed = circulation.renew(b, copy)
        agent.run_once(b)
        assert verify(b) == []

    with opened(town.a) as a:
        agent.run_once(a)
        loan = Loan.get_by_id(lent["loan_id"])
        assert (loan.due_date, loan.renewals) == (renewed["due_date"], 1), "A's agrees"

    with opened(town.c) as c:
        agent.run_once(c)
        assert not Hold.select().exists() and not Loan.select().exists(), \
            "C holds nothing of A's and B's hold or loan"
        assert not any(k.startswith("hold.") for k in _kinds(b_origin) + _kinds(a_origin))
        handed = circulation.checkin(c, copy)  # the patron hands it in at C
        assert handed["away"] and handed["transit"] == A
        agent.run_once(c)
        assert verify(c) == []

    with opened(town.b) as b:
        agent.run_once(b)  # the return that ends B's loan reaches B
        assert Loan.get_by_id(lent["loan_id"]).returned_at is not None
        assert verify(b) == []

    with opened(town.a) as a:
        agent.run_once(a)
        assert Loan.get_by_id(lent["loan_id"]).returned_at is not None
        assert circulation.checkin(a, copy, at_desk=True)["received"]  # home: one scan
        assert Item.get(Item.barcode == copy).status == "available"
        agent.run_once(a)
        assert verify(a) == []

    with opened(town.hub_dir) as hub:
        assert Quarantine.select().count() == 0, "every step was allowed"
        assert Loan.get_by_id(lent["loan_id"]).due_date == renewed["due_date"]
        assert Hold.get_by_id(hold.id).status == "fulfilled"
        assert Item.get((Item.barcode == copy) & (Item.library == A)).status == "available"
        assert verify(hub) == []


def test_a_hold_b_fills_with_its_own_copy_ends_fulfilled_at_a_and_as_copy_goes_home(town):
    """A sends its copy; before it comes, B has a copy of its own and the patron borrows
    it there. A hears the hold is fulfilled (not "cancelled"); A's copy, come anyway,
    goes home from B's scan and is received at A."""
    copy = town.codes[0]
    with opened(town.b) as b:
        hold = holds.place(b, town.cards[0], town.bib_id)
        agent.run_once(b)
    with opened(town.a) as a:
        agent.run_once(a)
        assert circulation.checkin(a, copy, at_desk=True)["hold"]["sent"]
        agent.run_once(a)
    with opened(town.b) as b:  # B has not heard of the sending
        catalogue.save_item(b, {"bib": town.bib_id, "barcode": "B-0901"})
        circulation.checkout(b, town.cards[0], "B-0901")
        assert Hold.get_by_id(hold.id).status == "fulfilled"
        agent.run_once(b)
    with opened(town.a) as a:
        agent.run_once(a)
        assert Hold.get_by_id(hold.id).status == "fulfilled"
        assert Item.get(Item.barcode == copy).transit_to == B, "on the van still"
    with opened(town.b) as b:
        came = circulation.checkin(b, copy, at_desk=True)  # the van
        assert (came["hold_ended"], came["transit"]) == ("fulfilled", A)
        agent.run_once(b)
        assert Hold.get_by_id(hold.id).status == "fulfilled"
        assert verify(b) == []
    with opened(town.a) as a:
        agent.run_once(a)
        assert Hold.get_by_id(hold.id).status == "fulfilled"
        assert Item.get(Item.barcode == copy).transit_to == A
        assert circulation.checkin(a, copy, at_desk=True)["received"]
        assert Item.get(Item.barcode == copy).status == "available"
        agent.run_once(a)
        assert verify(a) == []
    with opened(town.hub_dir) as hub:
        assert Quarantine.select().count() == 0, "every step was allowed"
        assert Hold.get_by_id(hold.id).status == "fulfilled"
        assert verify(hub) == []


def _c_has_a_copy_and_b_asks_a(town):
    """C adds a copy of the title; B places a hold, asked of A (first in the order), and
    syncs it. Returns the hold."""
    with opened(town.c) as c:
        catalogue.save_item(c, {"bib": town.bib_id, "barcode": "C-0001"})
        agent.run_once(c)
    with opened(town.b) as b:
        agent.run_once(b)
        hold = holds.place(b, town.cards[0], town.bib_id)
        assert hold.source == A
        agent.run_once(b)
    return hold


def test_a_hold_asked_of_a_that_withdrew_its_copies_is_asked_of_c(town):
    """B's hold asked of A; A withdraws its copies; B asks C, which has one. C's pull
    list shows the new hold, C sends, B lends; A hears its asking ended."""
    hold = _c_has_a_copy_and_b_asks_a(town)
    with opened(town.a) as a:
        agent.run_once(a)
        assert len(holds.pull_list(A)) == 1
        for code in town.codes:
            catalogue.set_status(a, code, "withdrawn")
        assert holds.pull_list(A) == []
        agent.run_once(a)
    with opened(town.b) as b:
        agent.run_once(b)
        assert holds.reask(b) == 1
        again = Hold.get((Hold.status == "waiting") & (Hold.library == B))
        assert again.source == C and again.placed_at == hold.placed_at
        agent.run_once(b)
    with opened(town.c) as c:
        agent.run_once(c)
        [(row, copy)] = holds.pull_list(C)
        assert (row.id, copy.barcode) == (again.id, "C-0001")
        assert circulation.checkin(c, "C-0001", at_desk=True)["hold"]["sent"]
        agent.run_once(c)
        assert verify(c) == []
    with opened(town.a) as a:
        agent.run_once(a)
        assert Hold.get_by_id(hold.id).status == "cancelled" and holds.pull_list(A) == []
        assert Hold.get_or_none(Hold.id == again.id) is None, "C's asking is not A's"
    with opened(town.b) as b:
        agent.run_once(b)
        assert circulation.checkin(b, "C-0001", at_desk=True)["arrived"] == C
        circulation.checkout(b, town.cards[0], "C-0001")
        agent.run_once(b)
        assert verify(b) == []
    with opened(town.hub_dir) as hub:
        assert Quarantine.select().count() == 0, "every step was allowed"
        assert Hold.get_by_id(hold.id).status == "cancelled"
        assert Hold.get_by_id(again.id).status == "fulfilled"
        assert verify(hub) == []


def test_a_forged_b_lending_a_copy_of_a_not_sent_to_it_is_quarantined(town):
    with opened(town.b) as b:
        hold = holds.place(b, town.cards[0], town.bib_id)
        agent.run_once(b)
    with opened(town.a) as a:
        agent.run_once(a)
        circulation.checkin(a, town.codes[0], at_desk=True)
        as_loan = circulation.checkout(a, Patron.get(Patron.library == A).card,
                                       town.codes[1])["loan_id"]
        agent.run_once(a)
    with opened(town.b) as b:
        agent.run_once(b)
        circulation.checkin(b, town.codes[0], at_desk=True)
        other = Item.get(Item.barcode == town.codes[1])
        patron = Patron.get(Patron.card == town.cards[0])
        forged = events.record(b, "loan.out", {  # past every check of B's own desk
            "loan_id": "forged-loan", "item_id": other.id, "patron_id": patron.id,
            "library": A, "due_date": "2030-01-01", "at": b.clock.iso_now(),
            "hold_id": hold.id, "pickup": B, "actor": None}, library=A)
        cancel_elsewhere = events.record(b, "hold.cancelled", {
            "hold_id": hold.id, "item_id": other.id, "transit_to": C})
        renew_elsewhere = events.record(b, "loan.renew", {  # A's loan to A's card
            "loan_id": as_loan, "due_date": "2030-01-01", "max_renewals": 9,
            "actor": None}, library=A)
        agent.run_once(b)
    with opened(town.hub_dir):
        held = {q.event_id: q.code for q in Quarantine.select()}
        assert held == {forged.id: "other_library", cancel_elsewhere.id: "other_library",
                        renew_elsewhere.id: "other_library"}
        assert Loan.get_by_id(as_loan).renewals == 0
        assert not Loan.select().where(Loan.id == "forged-loan").exists()
        assert Hold.get_by_id(hold.id).status == "ready"
    with opened(town.a) as a:
        agent.run_once(a)
        assert not Event.select().where(Event.id << list(held)).exists(), "A got none"
        assert not Loan.select().where(Loan.id == "forged-loan").exists()
        assert Loan.get_by_id(as_loan).renewals == 0, "A's own loan, as A made it"


def _a_lends_both_and_c_has_one(town):
    """C puts a copy of the record on its shelf and A lends both its own, each synced:
    the hub knows the copy on a shelf is C's, not A's."""
    with opened(town.c) as c:
        catalogue.save_item(c, {"bib": town.bib_id, "barcode": "C-0001"})
        agent.run_once(c)
    with opened(town.a) as a:
        reader = Patron.get(Patron.library == A).card
        for code in town.codes:
            circulation.checkout(a, reader, code)
        agent.run_once(a)


def test_a_hold_is_asked_where_the_hub_says_a_copy_is_on_the_shelf(town):
    """A lends both its copies (B holds no loan of A's); C has one on its shelf. B's hold,
    asked of A as B knows the town, is asked of C after the sync brings the hub's word,
    and the next hold placed at B asks C at once."""
    _a_lends_both_and_c_has_one(town)
    with opened(town.b) as b:
        agent.run_once(b)
        assert {i.status for i in Item.select().where(Item.library == A)} == {"available"}, \
            "B holds no loan of A's"
        first = holds.place(b, town.cards[0], town.bib_id)
        assert first.source == A, "by code, as B knows the shelves"
        agent.run_once(b)  # the hub's answer: on a shelf at C, none at A
        assert holds.reask(b) == 1
        again = Hold.get((Hold.status == "waiting") & (Hold.patron == first.patron_id))
        assert again.source == C and again.placed_at == first.placed_at
        assert holds.place(b, town.cards[1], town.bib_id).source == C
        agent.run_once(b)
        assert verify(b) == []
    with opened(town.c) as c:
        agent.run_once(c)
        assert len(holds.pull_list(C)) == 1, "one copy on C's shelf for the oldest hold"
        assert len(holds.asked_of(C)) == 2
    with opened(town.hub_dir) as hub:
        assert Quarantine.select().count() == 0
        assert verify(hub) == []


@pytest.mark.parametrize("town", ["sqlite"], indirect=True)  # the stick, not the database
def test_a_usb_stick_carries_the_hubs_word_on_the_shelves(town, tmp_path):
    """B's link is down: its hold goes to the hub on a USB stick, and the stick back
    carries the hub's word that C, not A, has a copy on its shelf, as an answer over the
    link does; B asks C."""
    _a_lends_both_and_c_has_one(town)
    up, down = tmp_path / "up.tvsync", tmp_path / "down.tvsync"
    with opened(town.b) as b:
        agent.run_once(b)  # the last sync over the link: no hold of B's asks anyone yet
        assert shelves.word(b) == {}
        hold = holds.place(b, town.cards[0], town.bib_id)
        assert hold.source == A, "by code, as B knows the shelves"
        usb.export(b, up)
        device = b.origin
    with opened(town.hub_dir) as hub:
        assert usb.import_(hub, up)["applied"] >= 1
        usb.export(hub, down, device)
    with opened(town.b) as b:
        assert usb.import_(b, down)["refused"] == []
        assert shelves.word(b) == {town.bib_id: {C}}
        assert holds.reask(b) == 1
        again = Hold.get((Hold.status == "waiting") & (Hold.library == B))
        assert again.source == C
        assert verify(b) == []


def _second_pi_at_b(town):
    """Another Pi of B, enrolled and synced: the folder of its data."""
    with opened(town.hub_dir) as hub:
        token = enrol.create_token(hub, B)
    b2 = init(town.tmp_path / "second-pi", B)
    with opened(b2) as ctx:
        enrol.enrol_with(ctx, town.url, token)
        agent.run_once(ctx)
    return b2


def _open_holds(hold):
    return [h.id for h in Hold.select().where((Hold.patron == hold.patron_id)
                                              & (Hold.status << ("waiting", "in_transit")))]


def _b_asks_c_at_one_pi(town):
    """B's hold asked of A, and a second Pi of B; A lends both copies, and the first Pi,
    told by the hub that C has one on its shelf, asks C. Returns the hold and the second
    Pi's folder."""
    hold = _c_has_a_copy_and_b_asks_a(town)
    b2 = _second_pi_at_b(town)
    with opened(town.a) as a:
        agent.run_once(a)
        reader = Patron.get(Patron.library == A).card
        for code in town.codes:
            circulation.checkout(a, reader, code)
        agent.run_once(a)
    with opened(town.b) as b:
        agent.run_once(b)  # the hub's word: C has one on its shelf, A none
        assert holds.reask(b) == 1
        assert Hold.get_by_id(_open_holds(hold)[0]).source == C
    return hold, b2


def test_two_pis_of_b_asking_again_apart_end_with_one_library_asked(town):
    """B's hold asked of A. A lends both copies: the hub tells one Pi of B that C has one
    on its shelf, and it asks C; the other Pi, not yet synced, has a copy of B's own and
    keeps the hold in B's queue. After the syncs one ask stands on every node, the hub
    and both Pis; C hears it is not asked (or, its ask standing, that B can fill it now)
    and its pull list is empty; nothing is quarantined."""
    hold, b2 = _b_asks_c_at_one_pi(town)
    with opened(b2) as other:
        catalogue.save_item(other, {"bib": town.bib_id, "barcode": "B-0901"})
        assert holds.reask(other) == 1
        assert Hold.get_by_id(_open_holds(hold)[0]).source is None
        agent.run_once(other)
    with opened(town.b) as b:
        agent.run_once(b)
        [stands] = _open_holds(hold)
        holds.reask(b)  # the housekeeping round says what was replaced, or asks again
        agent.run_once(b)
        assert verify(b) == []
    with opened(b2) as other:
        agent.run_once(other)
        holds.reask(other)
        agent.run_once(other)
        left = _open_holds(hold)
        assert verify(other) == []
    with opened(town.b) as b:
        agent.run_once(b)
        assert _open_holds(hold) == left and Hold.get_by_id(left[0]).source is None
    with opened(town.c) as c:
        agent.run_once(c)
        assert holds.pull_list(C) == [] and holds.asked_of(C) == []
    with opened(town.hub_dir) as hub:
        assert Quarantine.select().count() == 0, "every step was allowed"
        asks = list(Hold.select().where(Hold.reasks == hold.id).order_by(Hold.id))
        assert sorted(h.source or "" for h in asks) == ["", C]
        assert asks[0].id == stands and asks[1].replaced == "told", "one ask stands"
        assert _open_holds(hold) == left
        assert verify(hub) == []


def _asked_first_of(library):
    """A hold id whose asking again of `library` sorts before its asking again in the
    pickup library's own queue (holds.reask derives both ids from it): the ask of
    `library` stands."""
    def ask(hold_id, source):
        return str(uuid.uuid5(holds._REASKED, f"{hold_id}:{source}"))
    return next(hold_id for hold_id in (f"01a2328c-0000-7000-8000-{n:012d}" for n in range(1, 99))
                if ask(hold_id, library) < ask(hold_id, ""))


def test_a_request_filled_at_one_pi_of_b_ends_the_ask_of_c_the_other_made(town, monkeypatch):
    """B's hold asked of A, which lends both copies. One Pi of B, told C has one on its
    shelf, asks C, and C sends its copy; the other Pi, not yet synced, has a copy of B's
    own and keeps the hold in B's queue, and the patron borrows that copy at once. C's
    ask stands (its id sorts first), yet the patron has the book: after the syncs it has
    ended on every node, C hears so from B's next round, and C's copy, come anyway, goes
    home from B's scan and is received at C; nothing is quarantined."""
    monkeypatch.setattr(holds, "new_id", lambda: _asked_first_of(C))
    hold, b2 = _b_asks_c_at_one_pi(town)
    with opened(town.b) as b:
        [asked_c] = _open_holds(hold)
        agent.run_once(b)
    with opened(town.c) as c:
        agent.run_once(c)
        assert circulation.checkin(c, "C-0001", at_desk=True)["hold"]["sent"]
        agent.run_once(c)
    with opened(b2) as other:
        catalogue.save_item(other, {"bib": town.bib_id, "barcode": "B-0901"})
        assert holds.reask(other) == 1
        circulation.checkout(other, town.cards[0], "B-0901")
        assert _open_holds(hold) == [], "filled at this Pi"
        agent.run_once(other)
    with opened(town.b) as b:
        agent.run_once(b)
        assert Hold.get_by_id(asked_c).status == "cancelled", "the patron has the book"
        holds.reask(b)  # the housekeeping round tells C
        came = circulation.checkin(b, "C-0001", at_desk=True)  # the van
        assert (came["hold_ended"], came["transit"]) == ("cancelled", C)
        agent.run_once(b)
        assert verify(b) == []
    with opened(town.c) as c:
        agent.run_once(c)
        assert (Hold.get_by_id(asked_c).status, Hold.get_by_id(asked_c).replaced) == (
            "cancelled", "told")
        assert holds.pull_list(C) == [] and holds.asked_of(C) == []
        assert circulation.checkin(c, "C-0001", at_desk=True)["received"]
        assert verify(c) == []
    with opened(b2) as other:
        agent.run_once(other)
        assert _open_holds(hold) == [] and verify(other) == []
    with opened(town.hub_dir) as hub:
        assert Quarantine.select().count() == 0, "every step was allowed"
        assert _open_holds(hold) == []
        assert Hold.get_by_id(asked_c).replaced == "told"
        assert verify(hub) == []


def _sent_from(ctx, lang="vi"):
    """The "Sent from" cell of the one open hold on B's staff Holds page."""
    client = create_app(ctx, testing=True).test_client()
    staff_login(client, "thuthu-b")
    page = client.get(f"/desk/holds?lang={lang}").get_data(as_text=True)
    [row] = re.findall(r"<tbody>\s*<tr.*?</tr>", page, re.S)
    return re.findall(r"<td>(.*?)</td>", row, re.S)[-1].strip()


def test_a_hold_declined_by_a_is_asked_of_c_then_kept_at_b_and_a_forged_decline_is_held(
        town):
    """A says it cannot fill B's hold: B asks C; C says so too: the hold joins B's own
    queue, asked of neither again. C's forged decline of a hold asked of A, before, is
    quarantined at the hub and reaches no one. B's staff see on their Holds page which
    library said it cannot, and which are not asked again."""
    hold = _c_has_a_copy_and_b_asks_a(town)
    with opened(town.c) as c:
        forged = events.record(c, "hold.declined", {  # past every check of C's own desk
            "hold_id": hold.id, "source": A, "reason": "giả", "at": c.clock.iso_now()},
            library=B)
        agent.run_once(c)
    with opened(town.hub_dir):
        assert {q.event_id: q.code for q in Quarantine.select()} == {forged.id: "not_asked"}
        assert Hold.get_by_id(hold.id).declined is None
    with opened(town.a) as a:
        agent.run_once(a)
        assert Hold.get_by_id(hold.id).declined is None, "A never got the forgery"
        holds.decline(a, hold.id, "Không có trên giá")
        assert holds.pull_list(A) == []
        agent.run_once(a)
    with opened(town.b) as b:
        agent.run_once(b)
        assert Hold.get_by_id(hold.id).declined == "Không có trên giá"
        users.create(b, "thuthu-b", PASSWORD, "librarian")
        assert _sent_from(b) == (f'<div class="problem" data-declined="{A}">Thư viện {A} '
                                 "không gửi được sách: Không có trên giá</div>")
        assert _sent_from(b, "en") == (f'<div class="problem" data-declined="{A}">Thư viện '
                                       f"{A} cannot send a copy: Không có trên giá</div>")
        assert holds.reask(b) == 1
        again = Hold.get((Hold.status == "waiting") & (Hold.library == B))
        assert (again.source, again.passed_over) == (C, [A])
        assert _sent_from(b) == (f'Thư viện {C}<div data-passed-over="{A}">Không nhờ lại '
                                 f"(đã báo không gửi được sách): Thư viện {A}</div>")
        agent.run_once(b)
    with opened(town.c) as c:
        agent.run_once(c)
        assert [h.id for h in holds.asked_of(C)] == [again.id]
        holds.decline(c, again.id, "Sách hỏng")
        agent.run_once(c)
    with opened(town.b) as b:
        agent.run_once(b)
        assert holds.reask(b) == 1
        last = Hold.get((Hold.status == "waiting") & (Hold.library == B))
        assert (last.source, last.passed_over) == (None, [A, C])
        assert _sent_from(b, "en") == (f'here<div data-passed-over="{A} {C}">Not asked again '
                                       f"(could not send a copy): Thư viện {A}, Thư viện {C}"
                                       "</div>")
        agent.run_once(b)
        assert verify(b) == []
    with opened(town.a) as a:
        agent.run_once(a)
        assert Hold.get_by_id(hold.id).status == "cancelled" and holds.asked_of(A) == []
        assert verify(a) == []
    with opened(town.hub_dir) as hub:
        assert Quarantine.select().count() == 1
        assert Hold.get_by_id(last.id).passed_over == [A, C]
        assert verify(hub) == []


@pytest.mark.browser
@pytest.mark.parametrize("town", ["sqlite"], indirect=True)  # the page, not the database
def test_the_holds_page_says_who_cannot_send_on_the_pis_screen(town, page):
    """On the Pi's 800x480 screen, in Chromium: A's word that it cannot send, with the
    longest reason a desk takes, stands whole in its column of B's Holds page, then the
    library not asked again; nothing scrolls sideways."""
    from tests.web.test_browser_phone import wide_by
    from tests.web.test_browser_scan import login

    reason = ("Không có trên giá như mục lục ghi, đã tìm cả kho mở tầng hai và giá sách "
              "trả chờ xếp lại; bản còn lại đang đóng bìa ở phòng nghiệp vụ, chưa cho mượn "
              "được trước cuối tháng này")
    assert len(reason) <= 200
    hold = _c_has_a_copy_and_b_asks_a(town)
    with opened(town.a) as a:
        agent.run_once(a)
        holds.decline(a, hold.id, reason)
        agent.run_once(a)
    with opened(town.b) as b:
        agent.run_once(b)
        users.create(b, "thuthu", PASSWORD, "librarian")
        with Server(create_app(b, testing=True)) as at_b:
            page.set_viewport_size({"width": 800, "height": 480})
            login(page, at_b)
            page.goto(f"{at_b.url}/desk/holds")
            assert page.locator("thead th").last.inner_text() == "Gửi từ"
            note = page.locator(f'td [data-declined="{A}"]')
            assert note.inner_text() == f"Thư viện {A} không gửi được sách: {reason}"
            box = note.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 800
            assert wide_by(page) == 0
            assert holds.reask(b) == 1
            page.reload()
            passed = page.locator(f'td [data-passed-over="{A}"]')
            assert passed.inner_text() == ("Không nhờ lại (đã báo không gửi được sách): "
                                           f"Thư viện {A}")
            assert passed.is_visible() and wide_by(page) == 0
