"""The co-borrowing model on a small planted town (tests/suggest/town.py): the rule of
five borrowers, patrons who turned reading history off left out, children's loans
apart, and a model file that names no patron."""

import gzip
import json

import pytest

from appliance.core import circulation, patrons
from appliance.core.models import Loan, Patron, SuggestRelated
from appliance.core.suggest import borrowing, build, modelfile, store, words
from tests.factories import make_library, seed
from tests.suggest import town


def test_a_pair_counts_each_borrower_once_and_needs_five():
    five = [[1, 2]] * 5
    assert borrowing.neighbours(five) == {1: [(2, 5)], 2: [(1, 5)]}
    assert borrowing.neighbours([[1, 2]] * 4) == {}
    # one reader borrowing the pair again and again is still one borrower
    assert borrowing.neighbours([[1, 2]] * 4 + [[1, 2, 1, 2][:2]] * 1) == borrowing.neighbours(
        five)
    assert borrowing.neighbours([[1, 2, 3]] * 5, top=1) == {1: [(2, 5)], 2: [(1, 5)],
                                                            3: [(1, 5)]}


def test_a_popular_record_does_not_crowd_every_list():
    """Ranked by cosine: a record everyone borrows comes after one read with this one."""
    histories = [[1, 2, 9]] * 6 + [[9, n] for n in range(10, 40)]
    assert borrowing.neighbours(histories)[1][0] == (2, 6)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    ctx = make_library(tmp_path_factory.mktemp("planted") / "data", role="hub")
    seed(ctx)
    bibs = town.build(ctx)
    stats = build.build(ctx)
    yield ctx, bibs, stats
    ctx.close()


def together(bibs, title, audience):
    row = SuggestRelated.get_or_none(SuggestRelated.key == f"{audience}|{bibs[title].id}")
    names = {b.id: t for t, b in bibs.items()}
    return {names[b]: n for b, n in (row.items if row else [])}


def test_five_borrowers_make_a_pair_four_do_not(planted):
    ctx, bibs, _stats = planted
    assert together(bibs, "Số đỏ", "adult") == {"Tắt đèn": 5}
    assert together(bibs, "Bỉ vỏ", "adult") == {}
    shown = store.related(bibs["Số đỏ"].id)
    assert shown[0] == {"bib_id": bibs["Tắt đèn"].id, "title": "Tắt đèn",
                        "why": "borrowed_together"}
    # Bỉ vỏ may come as alike in content, never as borrowed together
    assert {"bib_id": bibs["Bỉ vỏ"].id, "title": "Bỉ vỏ", "why": "subject"} in shown


def test_patrons_who_turned_history_off_are_left_out(planted):
    ctx, bibs, stats = planted
    assert stats["patrons_left_out"] == 5
    assert together(bibs, "Lịch sử Phú Yên", "adult") == {}
    assert together(bibs, "Lịch sử Phú Yên", "child") == {}
    assert all(r["why"] != "borrowed_together" for r in store.related(bibs["Lịch sử Phú Yên"].id))


def test_children_get_suggestions_from_childrens_loans(planted):
    ctx, bibs, _stats = planted
    assert together(bibs, "Kính vạn hoa 1", "child") == {"Kính vạn hoa 2": 5}
    assert together(bibs, "Kính vạn hoa 1", "adult") == {}
    assert together(bibs, "Số đỏ", "child") == {}
    # a child sees children's lists only: Số đỏ's adult pair is not borrowed together
    child_view = store.related(bibs["Số đỏ"].id, "child")
    assert all(r["why"] != "borrowed_together" for r in child_view)


def test_the_model_file_names_no_patron_and_counts_five_or_more(planted):
    ctx, _bibs, stats = planted
    data = build.read(ctx.data_dir)
    assert len(data) == stats["bytes"]
    text = gzip.decompress(data).decode()
    for p in Patron.select():
        assert p.id not in text and p.card not in text and p.name not in text
    for loan in Loan.select():
        assert loan.id not in text
    model = modelfile.unpack(data)
    counts = [n for lists in model["related"].values() for items in lists.values()
              for _b, n in items]
    assert counts and min(counts) >= borrowing.MIN_BORROWERS


def test_a_bad_file_is_refused():
    with pytest.raises(modelfile.BadModel):
        modelfile.unpack(b"not gzip")
    with pytest.raises(modelfile.BadModel):
        modelfile.unpack(gzip.compress(json.dumps({"format": "other"}).encode()))


def test_content_fallback_and_the_classification_suggestion(planted):
    ctx, bibs, _stats = planted
    alike = store.related(bibs["Kỹ thuật nuôi tôm"].id)
    assert alike == []  # shares no telling word with anything
    # nobody borrowed Bỉ vỏ with five others: what it shares stands instead
    assert {(r["title"], r["why"]) for r in store.related(bibs["Bỉ vỏ"].id)} == {
        ("Số đỏ", "subject"), ("Tắt đèn", "subject")}
    # anyone but a child sees the children's pair too, after the adults' (none here)
    assert store.related(bibs["Kính vạn hoa 2"].id)[0]["why"] == "borrowed_together"
    got = store.suggest_classification("Kính vạn hoa 3", ["Nguyễn Nhật Ánh"])
    assert got["ddc"][0]["ddc"] == "895.9223" and got["main_classes"][0] == "8"
    assert got["subjects"][0] == "Truyện thiếu nhi"
    assert [e["title"] for e in got["evidence"]][:2] == ["Kính vạn hoa 1", "Kính vạn hoa 2"]
    assert words.title_terms("Tiểu thuyết", ["Vũ Trọng Phụng"]) == [
        "tieu", "thuyet", "tieu_thuyet", "a:vu trong phung"]


def test_a_history_turned_back_on_counts_again(tmp_path):
    ctx = make_library(tmp_path / "data", role="hub")
    seed(ctx)
    patron = patrons.find(ctx, "P0001")
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkin(ctx, "1001")
    # a card never asked (the desk does not set it) is counted
    by_audience, counted = build.histories({})
    assert counted["patrons_left_out"] == 0 and len(by_audience["adult"]) == 1
    patrons.save(ctx, {"id": patron.id, "keep_history": True})
    patrons.save(ctx, {"id": patron.id, "keep_history": False})
    by_audience, counted = build.histories({})
    assert counted["patrons_left_out"] == 1 and by_audience["adult"] == []
    patrons.save(ctx, {"id": patron.id, "keep_history": True})
    by_audience, counted = build.histories({})
    assert counted["patrons_left_out"] == 0 and len(by_audience["adult"]) == 1
    ctx.close()


def test_a_database_of_schema_19_gains_the_opt_in_and_the_tables(tmp_path):
    from appliance.core.context import Context

    ctx = make_library(tmp_path / "data")
    for sql in ("ALTER TABLE patron DROP COLUMN suggestions", "DROP TABLE suggest_related",
                "DROP TABLE suggest_doc", "DROP TABLE suggest_term",
                "UPDATE setting SET value = '19' WHERE key = 'schema_version'"):
        ctx.db.execute_sql(sql)
    ctx.close()
    ctx = Context.open(tmp_path / "data")
    try:
        assert "suggestions" in {c.name for c in ctx.db.get_columns("patron")}
        assert store.current_id() is None and store.related("nothing") == []
        assert SuggestRelated.select().count() == 0
    finally:
        ctx.close()


def test_the_hub_maintenance_loop_builds_once_a_day(tmp_path):
    from appliance import maintenance

    hub = make_library(tmp_path / "hub", role="hub")
    try:
        first = maintenance.suggestions_if_due(hub)
        assert first is not None and store.current_id() == first["id"]
        assert maintenance.suggestions_if_due(hub) is None  # built today already
        assert build.due(now_ms=first["id"] + build.DAILY_MS + 60_000)  # a day later
    finally:
        hub.close()
    branch = make_library(tmp_path / "branch")
    try:
        assert maintenance.suggestions_if_due(branch) is None  # branches receive it
    finally:
        branch.close()
