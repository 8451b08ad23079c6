"""A hold that travels, asked where a copy is on the shelf, and declined by the library
asked: B's hold asked of A is asked of C when A says it cannot fill it (never of A
again), and joins B's own queue when no library is left; the library asked is chosen
with a copy on its shelf first, as the node can know it (the hub's word at a branch).
Each step at a branch alone, events relayed by hand as the hub would; the authority
rule lets only the library asked decline."""

import pytest

from appliance import maintenance
from appliance.core import authority, catalogue, circulation, events, holds, shelves, verify
from appliance.core.errors import Forbidden, Refused
from appliance.core.models import Hold
from sync.receive import TOWN_WIDE
from tests.core.test_holds_travel import (
    _allowed,
    _at,
    _mine,
    _new,
    _placed_at_b,
    _relay,
    town,  # noqa: F401  (the fixture)
)
from tests.factories import make_library

A, B, C = "PY-DH01", "PY-DH02", "PY-DH03"
REASON = "Không tìm thấy trên giá"


@pytest.fixture
def town3(town, tmp_path):  # noqa: F811
    """The town of A and B, and C with a copy of the same record (C-0001), known at B."""
    a = _at(town, "a")  # A holds its own records and B's, relayed
    records = _mine(town["a_origin"], TOWN_WIDE) + _mine(town["b_origin"], TOWN_WIDE)
    a.close()
    c = make_library(tmp_path / "c", library=C, name="Thư viện phường Hòa Thuận")
    _relay(c, records)
    catalogue.save_item(c, {"bib": town["bib"], "barcode": "C-0001"})
    town.update(c=c.data_dir, c_origin=c.origin)
    c_records = _mine(c.origin, TOWN_WIDE)
    c.close()
    for name in ("a", "b"):
        ctx = _at(town, name)
        _relay(ctx, c_records)
        ctx.close()
    return town


def _declined_by(world, name, hold_id, relayed):
    """`name`'s device hears of the hold and declines it: the events it made."""
    ctx = _at(world, name)
    _relay(ctx, relayed)
    seq = events.head(ctx.origin)[0]
    said = holds.decline(ctx, hold_id, f"  {REASON}  ")
    assert said["reason"] == REASON and said["library"] == B
    assert holds.asked_of(ctx.library) == [] and holds.pull_list(ctx.library) == []
    with pytest.raises(Refused) as again:
        holds.decline(ctx, hold_id, REASON)
    assert again.value.code == "hold_declined"
    made = _new(world, name, seq)
    assert verify.verify(ctx) == []
    ctx.close()
    assert [(e["kind"], e["library"]) for e in made] == [("hold.declined", B)]
    _allowed(made, ctx.library)
    return made


def _reasked_at_b(world, relayed):
    b = _at(world, "b")
    _relay(b, relayed)
    seq = events.head(b.origin)[0]
    maintenance.run_once(b)  # the housekeeping round asks again, no button pressed
    made = _new(world, "b", seq)
    assert [e["kind"] for e in made] == ["hold.cancelled", "hold.placed"]
    again = Hold.get_by_id(made[1]["body"]["hold_id"])
    assert holds.reask(b) == 0, "asked once"
    assert verify.verify(b) == []
    b.close()
    _allowed(made, B)
    return again, made


def test_a_declined_hold_is_asked_of_the_next_library_and_never_of_a_again(town3):
    hold, placed = _placed_at_b(town3)
    assert hold.source == A, "A and C alike as B knows them: by code"
    a = _at(town3, "a")
    _relay(a, placed)
    assert [h.id for h in holds.asked_of(A)] == [hold.id]
    a.close()
    declined = _declined_by(town3, "a", hold.id, [])

    again, made = _reasked_at_b(town3, declined)
    assert Hold.get_by_id(hold.id).declined == REASON
    assert (again.source, again.passed_over, again.placed_at, again.patron_id) == (
        C, [A], hold.placed_at, hold.patron_id), "asked of C, A remembered, its place kept"

    c = _at(town3, "c")
    _relay(c, placed + made)
    [(row, copy)] = holds.pull_list(C)
    assert (row.id, copy.barcode) == (again.id, "C-0001")
    c.close()
    declined_c = _declined_by(town3, "c", again.id, [])

    last, _ = _reasked_at_b(town3, declined_c)
    assert (last.source, last.passed_over, last.status) == (None, [A, C], "waiting"), \
        "nothing else can lend: B's own queue, A not asked again"
    b = _at(town3, "b")
    assert holds.stranded(B) == [] and holds.reask(b) == 0
    b.close()


def test_only_the_library_asked_may_decline_and_only_while_the_hold_waits(town3):
    hold, placed = _placed_at_b(town3)
    b = _at(town3, "b")
    with pytest.raises(Forbidden) as pickup:
        holds.decline(b, hold.id, REASON)
    assert pickup.value.code == "not_asked"
    b.close()
    c = _at(town3, "c")
    _relay(c, placed)
    with pytest.raises(Forbidden):
        holds.decline(c, hold.id, REASON)
    c.close()
    a = _at(town3, "a")
    _relay(a, placed)
    for reason, code in (("   ", "reason_needed"), ("x" * 201, "reason_too_long")):
        with pytest.raises(Refused) as said:
            holds.decline(a, hold.id, reason)
        assert said.value.code == code
    assert circulation.checkin(a, "1002", at_desk=True)["hold"]["sent"]
    with pytest.raises(Refused) as sent:
        holds.decline(a, hold.id, REASON)
    assert sent.value.code == "hold_sent", "a copy on its way: the hold is the copy's"
    a.close()


def _word(ctx, records, age_ms=0):
    shelves.take(ctx, records)
    if age_ms:
        from appliance.core.models import Setting
        row = Setting.get_by_id(shelves.KEY)
        row.value = dict(row.value, at_ms=row.value["at_ms"] - age_ms)
        row.save()


def test_the_library_asked_has_a_copy_on_its_shelf_as_the_hub_says(town3):
    """B holds A's and C's copies, not their loans: as B knows them both are on the shelf
    and A comes first. The hub's word that A's is out and C's in makes B ask C, and pass
    over A for a hold already asked of it; a word naming no shelf keeps the order; a word
    a day old is not taken."""
    b = _at(town3, "b")
    bib = town3["bib"]
    first = holds.place(b, "B0001", bib)
    assert first.source == A
    _word(b, {bib: [C]}, age_ms=shelves.MAX_AGE_MS + 1)
    assert holds.reask(b) == 0, "a stale word changes nothing"
    _word(b, {bib: []})
    assert holds.reask(b) == 0, "no library has one on the shelf: as it was"
    _word(b, {bib: [C]})
    assert [h.id for h in holds.stranded(B, shelves.word(b))] == [first.id]
    seq = events.head(b.origin)[0]
    assert holds.reask(b) == 1
    made = _new(town3, "b", seq)
    again = Hold.get_by_id(made[1]["body"]["hold_id"])
    assert (again.source, again.passed_over) == (C, None), "A did not decline: not barred"
    assert holds.reask(b) == 0, "C has one on its shelf: it stays"
    second = holds.place(b, "B0002", bib)
    assert second.source == C, "placed where the hub says a copy is on the shelf"
    _word(b, {bib: [A, C]})
    assert holds.reask(b) == 0, "both have one: no need to move"
    assert verify.verify(b) == []
    b.close()


def test_the_word_names_the_libraries_with_a_copy_on_the_shelf(town3):
    """What the hub's answer carries for B, from the statuses held where it is worked out
    (at the hub, every library's loans; here A's node, which holds A's loans)."""
    hold, placed = _placed_at_b(town3)
    a = _at(town3, "a")
    _relay(a, placed)
    assert shelves.offer(B) == {town3["bib"]: [A, C]}
    circulation.checkout(a, "P0001", "1002")
    assert shelves.offer(B) == {town3["bib"]: [C]}
    assert shelves.offer(A) == {}, "A's own holds ask no one"
    a.close()


# The rule: only the library asked declines, routed to the hold's library.
ROWS = {("hold", "hx"): {"library": B, "source": A, "patron_id": "pb",
                         "patron_library": B, "item_id": None},
        ("hold", "hl"): {"library": B, "source": None, "patron_id": "pb",
                         "patron_library": B, "item_id": None}}


def _ev(routed, **body):
    return {"id": "e", "kind": "hold.declined", "library": routed,
            "body": {"reason": REASON, **body}}


@pytest.mark.parametrize("device,event,code", [
    (A, _ev(B, hold_id="hx", source=A), None),
    (C, _ev(B, hold_id="hx", source=C), "not_asked"),  # a library not asked
    (C, _ev(B, hold_id="hx", source=A), "not_asked"),  # … saying it is the one asked
    (B, _ev(B, hold_id="hx", source=A), "not_asked"),  # the pickup library cancels instead
    (A, _ev(A, hold_id="hx", source=A), "library_mismatch"),  # routed to the hold's library
    (A, _ev(B, hold_id="hl", source=A), "not_asked"),  # B's own queue asks no one
    (A, _ev(B, hold_id="nothing", source=A), "not_asked"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_the_rule_lets_only_the_library_asked_decline(device, event, code):
    reason = authority.check(event, device, lambda table, key: ROWS.get((table, key)))
    assert (reason.code if reason else None) == code


def test_a_hold_asked_again_names_no_library_it_passed_over_as_asked():
    placed = {"id": "p", "kind": "hold.placed", "library": B,
              "body": {"hold_id": "hy", "library": B, "patron_id": "pb", "bib_id": "r",
                       "source": A, "passed_over": [C]}}
    assert authority.screen([placed], B, lambda t, k: None) == {}
    bad = dict(placed, body=dict(placed["body"], passed_over=[A]))
    assert authority.screen([bad], B, lambda t, k: None)["p"].code == "bad_source"


def test_an_older_word_on_a_stick_does_not_replace_a_newer_one(town3):
    """The hub's word from a USB stick ages from when the hub wrote it, and one older
    than the word held (a stick carried in after a sync over the link) is not taken."""
    b = _at(town3, "b")
    bib, now = town3["bib"], b.clock.wall_ms()
    assert shelves.take(b, {bib: [C]}, said_ms=now - shelves.MAX_AGE_MS - 1)
    assert shelves.word(b) == {}, "written more than a day ago: says too little"
    assert shelves.take(b, {bib: [A]})
    assert not shelves.take(b, {bib: [C]}, said_ms=now - 60_000)
    assert shelves.word(b) == {bib: {A}}
    assert shelves.take(b, {bib: [C]}, said_ms=now + 60_000), "a stick written since"
    assert shelves.word(b) == {bib: {C}}
    b.close()


def _crossed(town3):
    """B's hold asked of A, asked of C by B on the hub's word; A declines the old hold
    before it hears of that: B's events, the new hold, and A's decline."""
    hold, placed = _placed_at_b(town3)
    b = _at(town3, "b")
    _word(b, {town3["bib"]: [C]})
    seq = events.head(b.origin)[0]
    assert holds.reask(b) == 1
    made = _new(town3, "b", seq)
    again = Hold.get_by_id(made[1]["body"]["hold_id"])
    assert (again.source, again.passed_over) == (C, None)
    b.close()
    a = _at(town3, "a")
    _relay(a, placed)
    a.close()
    return placed, made, again, _declined_by(town3, "a", hold.id, [])


def test_a_decline_crossing_an_asking_again_is_kept_for_the_patrons_request(town3):
    """B asks C for its hold asked of A (the hub says C has a copy on its shelf, A none);
    A, not having heard, says it cannot fill the old hold. B's new hold passes A over
    as soon as A's word arrives, so when C declines too, A is not asked again: the
    hold joins B's own queue."""
    placed, made, again, declined = _crossed(town3)
    b = _at(town3, "b")
    _relay(b, declined)
    assert Hold.get_by_id(again.id).passed_over == [A], "A's word kept for the request"
    assert holds.reask(b) == 0, "C has one on its shelf: it stays asked"
    assert verify.verify(b) == []
    b.close()
    declined_c = _declined_by(town3, "c", again.id, placed + made)
    last, _ = _reasked_at_b(town3, declined_c)
    assert (last.source, last.passed_over) == (None, [A, C]), "never A again"


@pytest.mark.parametrize("device,reasks,patron,code", [
    (B, "hx", "pb", None),
    (C, "hx", "pc", "bad_reask"),  # C's hold naming B's: it would replace B's asking
    (B, "hx", "pz", "bad_reask"),  # another patron's hold
    (B, "nothing", "pb", "bad_reask"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_hold_asked_again_replaces_only_a_hold_of_its_library_and_patron(
        device, reasks, patron, code):
    """Two asks for one hold: one stands, the other is replaced (projector). So a hold
    may name as the one it asks again for only a hold of its own library and patron."""
    placed = {"id": "p", "kind": "hold.placed", "library": device,
              "body": {"hold_id": "hz", "library": device, "patron_id": patron,
                       "bib_id": "r", "source": A, "reasks": reasks}}
    refused = authority.screen([placed], device, lambda t, k: ROWS.get((t, k)))
    assert (refused["p"].code if refused else None) == code


def test_schema_30_keeps_a_decline_that_crossed_an_asking_again_held_before(town3):
    """A Pi at schema 29 that took A's decline after asking C (the decline kept on the old
    hold only) is migrated: the state made again from its log passes A over on C's hold."""
    from appliance.core import db as dbmod

    _, _, again, declined = _crossed(town3)
    b = _at(town3, "b")
    _relay(b, declined)
    for index in ("hold_reasks", "hold_library_replaced"):  # (on the columns of 30)
        b.db.execute_sql(f"DROP INDEX IF EXISTS {index}")
    for column in ("reasks", "replaced"):
        b.db.execute_sql(f"ALTER TABLE hold DROP COLUMN {column}")
    b.db.execute_sql("UPDATE hold SET passed_over = NULL")
    dbmod._set_version(29)
    dbmod.migrate(b.db)
    assert dbmod.schema_version(b.db) == dbmod.SCHEMA_VERSION >= 30
    assert Hold.get_by_id(again.id).passed_over == [A]
    assert verify.verify(b) == []
    b.close()
