"""Two records of one book: the warning before the second is saved, and the merge that
makes them one, on SQLite and PostgreSQL; the merge is an event that replays and
meets other events in any order."""

import pytest

from appliance.core import catalogue, datadir, events, holds, merge, verify
from appliance.core.context import Context
from appliance.core.errors import Invalid
from appliance.core.models import Bib, Event, Hold, Item


def test_the_same_isbn_in_either_form_is_a_likely_duplicate(ctx):
    held = catalogue.save_bib(ctx, {"title": "Nhật ký trong tù", "isbn": "0-8044-2957-X"})
    for isbn in ("080442957X", "978-0-8044-2957-3", "9780804429573"):
        found = merge.likely_duplicates({"title": "Prison Diary", "isbn": isbn})
        assert [b.id for b in found] == [held.id], isbn
    assert merge.likely_duplicates({"title": "Prison Diary", "isbn": "9786040000026"}) != [] \
        and merge.likely_duplicates({"title": "Prison Diary", "isbn": "9786040000033"}) == []


def test_the_same_title_and_author_folded_is_a_likely_duplicate(ctx):
    kieu = ctx.bibs[0]
    for title, authors in (("truyen kieu", "NGUYEN DU"), ("Truyện Kiều.", "Nguyễn Du; Khác"),
                           ("  TRUYỆN  KIỀU ", ["nguyễn du"])):
        found = merge.likely_duplicates({"title": title, "authors": authors})
        assert [b.id for b in found] == [kieu.id], title
    assert merge.likely_duplicates({"title": "Truyện Kiều", "authors": "Đào Duy Anh"}) == []
    # an edit of a record that leaves its title, author and ISBN be warns of nothing
    twin = catalogue.save_bib(ctx, {"title": "Truyện Kiều", "authors": ["Nguyễn Du"]})
    assert merge.likely_duplicates({"title": "Truyện Kiều", "authors": "Nguyễn Du"},
                                   exclude=twin.id, editing=True) == []
    assert [b.id for b in merge.likely_duplicates(
        {"title": "Truyện Kiều", "authors": "Nguyễn Du"}, exclude=twin.id)] == [kieu.id]


def _twin(ctx):
    """A second record of Truyện Kiều with its own copy and a hold on it."""
    twin = catalogue.save_bib(ctx, {"title": "TRUYỆN KIỀU", "authors": ["Nguyễn Du"],
                                    "year": 1990})
    catalogue.save_item(ctx, {"bib": twin.id, "barcode": "2001"})
    holds.place(ctx, "P0002", twin.id)
    return twin


def test_a_merge_moves_copies_and_holds_and_retires_the_other(ctx):
    kieu, twin = ctx.bibs[0], _twin(ctx)
    merge.merge(ctx, kieu.id, twin.id)
    assert sorted(i.barcode for i in Item.select().where(Item.bib == kieu.id)) == [
        "1001", "2001"]
    assert Hold.select().where(Hold.bib == kieu.id).count() == 1
    retired = Bib.get_by_id(twin.id)
    assert retired.deleted and retired.merged_into == kieu.id
    with pytest.raises(catalogue.Merged) as moved:
        catalogue.get_bib(ctx, twin.id)
    assert moved.value.into == kieu.id
    assert [b.id for b in catalogue.find_records(ctx, "truyen kieu")[1]] == [kieu.id]
    with pytest.raises(Invalid):
        merge.merge(ctx, kieu.id, kieu.id)
    assert verify.verify(ctx) == []  # replaying the log gives the same rows
    verify.rebuild(ctx)
    assert Item.get(Item.barcode == "2001").bib_id == kieu.id
    assert verify.verify(ctx) == []


def _events_of(ctx):
    return [events.to_dict(e) for e in Event.select().where(Event.origin == ctx.origin)
            .order_by(Event.seq)]


def test_a_copy_added_elsewhere_to_the_retired_record_joins_the_kept_one(ctx, tmp_path):
    """Branch B adds a copy to the twin while the hub merges it away: whichever arrives
    first, both end with the copy on the kept record."""
    kieu, twin = ctx.bibs[0], _twin(ctx)
    history = _events_of(ctx)
    ctx.close()
    other = datadir.init(tmp_path / "other", ctx.library, "Thư viện phường Hòa Hiệp Trung",
                         role="hub")
    assert events.ingest(other, history)["applied"] == len(history)
    catalogue.save_item(other, {"bib": twin.id, "barcode": "2002"})  # B, offline
    from_other = _events_of(other)
    other.close()
    here = Context.open(ctx.data_dir)
    merge.merge(here, kieu.id, twin.id)  # the merge first, then B's copy
    events.ingest(here, from_other)
    assert Item.get(Item.barcode == "2002").bib_id == kieu.id
    assert verify.verify(here) == []
    merged = _events_of(here)  # what B holds already is skipped
    here.close()
    other = Context.open(tmp_path / "other")  # B's copy first, then the merge
    events.ingest(other, merged)
    assert Item.get(Item.barcode == "2002").bib_id == kieu.id
    assert Bib.get_by_id(twin.id).merged_into == kieu.id
    assert verify.verify(other) == []
    other.close()
