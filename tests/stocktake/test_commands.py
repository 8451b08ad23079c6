"""The stocktake's commands and their events: a copy counted once whatever the desks do,
the result sorted into missing, misplaced, unexpected and on loan, missing copies marked
lost, a found copy put back, a restart half-way, and the state always equal to a rebuild
of the log."""

import threading

import pytest

from appliance.core import authority, catalogue, circulation, events, verify
from appliance.core.context import Context
from appliance.core.errors import DomainError, Forbidden, Invalid, NotFound, Refused
from appliance.core.models import Event, Item, StocktakeSeen
from appliance.core.stocktake import commands, result


def barcodes(entries):
    return sorted(e["barcode"] for e in entries)


def test_a_shelf_range_found_missing_misplaced_unexpected_and_on_loan(shelved):
    ctx = shelved
    catalogue.set_status(ctx, "1002", "lost")
    circulation.checkout(ctx, "P0001", "1003")
    st = commands.start(ctx, location="Kho mở", call_from="895.9", call_to="895.9223",
                        actor="thuthu")
    answers = commands.scan(ctx, st.id, ["1001", "1001", "1002", "1003", "1004", "X-404"])
    assert [(a["barcode"], a["verdict"], a["again"]) for a in answers] == [
        ("1001", "ok", False), ("1001", "ok", True), ("1002", "found_lost", False),
        ("1003", "on_loan", False), ("1004", "misplaced", False), ("X-404", "unknown", False)]
    assert answers[4]["location"] == "Địa chí" and answers[0]["title"] == "Truyện Kiều"
    tags = commands.scan(ctx, st.id, [{"barcode": "1001", "owner": "VN-PY-DH01"},
                                      {"barcode": "1001", "owner": "PY-DH01"},
                                      {"barcode": "7777", "owner": "VN-PY-XA02"}], via="rfid")
    assert [(a["verdict"], a["again"], a["library"]) for a in tags] == [
        ("ok", True, "PY-DH01"), ("ok", True, "PY-DH01"), ("other_library", False, "PY-XA02")]
    # each event holds the copies new to it: two scans, one pad
    assert Event.select().where(Event.kind == "stocktake.seen").count() == 2
    st = commands.finish(ctx, st.id, actor="thuthu")
    found = result.of(st)
    assert result.counts(found) == {"expected": 1, "seen": 6, "found": 1, "missing": 0,
                                    "misplaced": 1, "unexpected": 3, "on_loan": 1,
                                    "on_loan_seen": 1}
    assert barcodes(found["misplaced"]) == ["1004"]
    assert sorted((e["barcode"], e["why"]) for e in found["unexpected"]) == [
        ("1002", "found_lost"), ("7777", "other_library"), ("X-404", "unknown")]
    assert [(e["barcode"], e["seen"]) for e in found["on_loan"]] == [("1003", True)]
    assert verify.verify(ctx) == []


def test_missing_copies_marked_lost_in_one_action_and_the_record_keeps_them(ctx):
    st = commands.start(ctx)
    commands.scan(ctx, st.id, ["1001", "1005"])
    with pytest.raises(Refused) as open_:
        commands.mark_missing_lost(ctx, st.id)
    assert open_.value.code == "stocktake_open"
    circulation.checkout(ctx, "P0002", "1003")  # lent out before the end: not missing
    st = commands.finish(ctx, st.id)
    assert barcodes(result.of(st)["missing"]) == ["1002", "1004"]
    circulation.checkout(ctx, "P0002", "1004")  # turned up and lent since: left alone
    assert commands.mark_missing_lost(ctx, st.id) == ["1002"]
    assert Item.get(Item.barcode == "1002").condition == "lost"
    assert Item.get(Item.barcode == "1004").status == "on_loan"
    missing = result.of(st)["missing"]  # the record still lists both, as they are now
    assert [(e["barcode"], e["condition"]) for e in missing] == [("1002", "lost"),
                                                                 ("1004", "available")]
    assert commands.mark_missing_lost(ctx, st.id) == []  # nothing twice
    with pytest.raises(Refused):
        commands.scan(ctx, st.id, ["1002"])
    assert verify.verify(ctx) == []


def test_a_lost_copy_found_goes_back_on_the_shelf(ctx):
    catalogue.set_status(ctx, "1004", "withdrawn")
    st = commands.start(ctx)
    with pytest.raises(Refused) as unseen:
        commands.put_back(ctx, st.id, "1004")
    assert unseen.value.code == "not_seen"
    commands.scan(ctx, st.id, ["1004", "1001"])
    with pytest.raises(Refused) as on_shelf:
        commands.put_back(ctx, st.id, "1001")
    assert on_shelf.value.code == "not_lost"
    assert commands.put_back(ctx, st.id, "1004").condition == "available"
    assert Item.get(Item.barcode == "1004").status == "available"
    assert verify.verify(ctx) == []


def test_refusals_say_what_is_wrong(ctx):
    with pytest.raises(Invalid) as backwards:
        commands.start(ctx, call_from="900", call_to="800")
    assert backwards.value.code == "bad_range"
    st = commands.start(ctx)
    with pytest.raises(Invalid):
        commands.scan(ctx, st.id, ["", "  "])
    with pytest.raises(Invalid):
        commands.scan(ctx, st.id, [str(n) for n in range(commands.MAX_CODES + 1)])
    with pytest.raises(NotFound):
        commands.scan(ctx, "no-such", ["1001"])
    commands.start(ctx)
    with pytest.raises(NotFound) as two:
        commands.current(ctx)
    assert two.value.code == "no_current_stocktake"
    ctx.role = "hub"
    try:
        with pytest.raises(Forbidden):
            commands.start(ctx)
    finally:
        ctx.role = "branch"


def test_the_hub_refuses_another_librarys_stocktake_events(ctx):
    st = commands.start(ctx)
    commands.scan(ctx, st.id, ["1001"])
    mine = [events.to_dict(e) for e in Event.select().where(Event.kind.startswith("stocktake"))]
    assert all(authority.check(dict(e, body=_body(e)), "PY-DH01", None) is None
               for e in mine)
    reason = authority.check(dict(mine[1], body=_body(mine[1])), "PY-XA02", None)
    assert reason.code == "other_library"
    claimed = dict(mine[1], body=_body(mine[1]), library="PY-XA02")
    assert authority.check(claimed, "PY-DH01", None).code == "library_mismatch"


def _body(d):
    import json
    return json.loads(d["body"]) if isinstance(d["body"], str) else d["body"]


def test_desks_scanning_at_once_count_each_copy_once(ctx):
    st = commands.start(ctx)
    codes = ["1001", "1002", "1003", "1004", "1005"]
    errors = []

    def desk(n):  # the desks of a Pi: threads of its one web server
        try:
            for code in codes * 3:
                commands.scan(ctx, st.id, [code], actor=f"desk{n}")
        except DomainError as e:  # pragma: no cover - shown if it happens
            errors.append(e)

    threads = [threading.Thread(target=desk, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert StocktakeSeen.select().where(StocktakeSeen.stocktake == st.id).count() == 5
    assert Event.select().where(Event.kind == "stocktake.seen").count() == 5
    assert verify.verify(ctx) == []


def test_it_survives_a_restart_half_way(ctx):
    st = commands.start(ctx, actor="thuthu")
    commands.scan(ctx, st.id, ["1001", "1002"])
    data_dir = ctx.data_dir
    ctx.close()
    again = Context.open(data_dir)
    try:
        assert commands.current(again).id == st.id
        assert [a["again"] for a in commands.scan(again, st.id, ["1002", "1003"])] == [
            True, False]
        assert result.counts(result.of(commands.finish(again, st.id)))["seen"] == 3
        assert verify.verify(again) == []
    finally:
        again.close()
        ctx.db = again.db  # the fixture closes what it holds


@pytest.mark.parametrize("given, inside", [
    ("895.922 NG-D", True), ("895.9", True), ("895.9223 TO-H", True),
    ("895.92231", True), ("895.8", False), ("896", False), ("", False)])
def test_a_call_number_range_takes_every_number_its_end_begins(given, inside):
    assert result.in_range(given, "895.9", "895.9223") is inside


def test_schema_14_adds_the_stocktake_tables_to_a_library_at_13(ctx):
    """A library made before stocktakes: its database at 13 without their tables, then
    migrated at start as a Pi updated in the field is."""
    from appliance.core import db as dbmod

    ctx.db.execute_sql("DROP TABLE stocktake_seen")
    ctx.db.execute_sql("DROP TABLE stocktake")
    dbmod._set_version(13)
    dbmod.migrate(ctx.db)
    assert dbmod.schema_version(ctx.db) == dbmod.SCHEMA_VERSION >= 14
    st = commands.start(ctx)
    assert commands.scan(ctx, st.id, ["1001"])[0]["verdict"] == "ok"
    assert verify.verify(ctx) == []
