"""A branch pulls what concerns it: its library's events and the town-wide records
(catalogue, patron cards, copies, so that any desk takes any copy back), not other
libraries' loans; it still verifies clean."""

from appliance.core import circulation, events
from appliance.core.models import Bib, Event, Loan, Patron
from appliance.core.verify import verify
from sync import agent
from tests.sync.syncsupport import opened, running_town, seed


def test_branch_pulls_its_library_and_the_town_records_only(tmp_path, hub_db):
    with running_town(tmp_path, ("PY-DH01", "PY-DH02"), hub_db, admin=None) as town:
        hub_dir, branches = town.hub_dir, town.branches
        with opened(branches["PY-DH02"]) as other:
            cards, codes = seed(other, prefix="B2")
            for code in codes:
                circulation.checkout(other, cards[0], code)
            other_origin = other.origin
            agent.run_once(other)
        with opened(branches["PY-DH01"]) as ctx:
            seed(ctx, prefix="B1")
            result = agent.run_once(ctx)
            assert result["pulled"] > 0
            pulled = Event.select().where(Event.origin == other_origin)
            kinds = {e.kind for e in pulled}
            assert kinds <= {"bib.saved", "patron.saved", "library.saved", "item.saved"}, kinds
            assert "loan.out" not in kinds and "item.saved" in kinds
            assert all(e.relayed for e in pulled)
            assert Patron.select().where(Patron.card == cards[0]).exists(), "town-wide card"
            assert Bib.select().where(Bib.title == "Đất rừng phương Nam").count() == 2
            assert Loan.select().count() == 0, "other libraries' loans stay at the hub"
            assert verify(ctx) == []
            mine = events.head(ctx.origin)[0]
        with opened(hub_dir) as h:
            assert Loan.select().where(Loan.library == "PY-DH02").count() == len(codes)
            assert events.head(ctx.origin)[0] == mine
            assert verify(h) == []


def test_a_tampered_relayed_event_is_refused(tmp_path, ctx):
    import pytest

    from appliance.core.errors import Invalid
    from appliance.core.ids import new_id
    evs = [events.to_dict(e) for e in Event.select().order_by(Event.seq).limit(3)]
    for d in evs:
        d["id"], d["origin"], d["seq"] = new_id(), "elsewhere", d["seq"] + 10  # gaps are fine
        d["hash"] = events.event_hash(d)
    evs[-1]["body"] = dict(evs[-1]["body"], name="forged")
    before = Event.select().count()
    with pytest.raises(Invalid) as info:
        events.ingest(ctx, evs, relayed=True)
    assert info.value.code == "bad_hash"
    assert Event.select().count() == before
    assert events.ingest(ctx, evs[:2], relayed=True)["applied"] == 2
    assert verify(ctx) == []
