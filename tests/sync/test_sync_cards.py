"""Two desks of one library, apart, give one card to two new patrons and one barcode to
two new copies; with a real hub on loopback (SQLite and PostgreSQL) every sync goes
through, the earlier by clock keeps the number wherever the events meet, the other is
kept with its number set aside, and the hub and both desks end the same."""

from types import SimpleNamespace

import pytest

from appliance.core import catalogue, patrons
from appliance.core.models import Conflict, Item, Patron
from sync import agent, enrol
from tests.sync.syncsupport import HubProcess, init, opened, set_settings

A = "PY-DH01"


@pytest.fixture
def desks(tmp_path, hub_db):
    hub_dir = init(tmp_path / "hub", "PY-TV00", role="hub", database=hub_db)
    set_settings(hub_dir, auto_approve=True)
    hub = HubProcess(hub_dir).start()
    try:
        pair = [init(tmp_path / f"desk{n}", A) for n in (1, 2)]
        for path in pair:
            with opened(hub_dir) as ctx:
                token = enrol.create_token(ctx, A)
            with opened(path) as ctx:
                enrol.enrol_with(ctx, hub.url, token)
        yield SimpleNamespace(hub=hub, hub_dir=hub_dir, one=pair[0], two=pair[1])
    finally:
        hub.stop()


def _new(path, name):
    with opened(path) as ctx:
        patrons.save(ctx, {"card": "A-0001", "name": name, "category": "adult"})
        bib = catalogue.save_bib(ctx, {"title": f"Sách của {name}", "language": "vie"})
        catalogue.save_item(ctx, {"bib": bib.id, "barcode": "A-C001"})


def _state():
    cards = sorted((p.name, p.card) for p in Patron.select().where(Patron.name.startswith("Bạn")))
    copies = sorted((i.bib.title, i.barcode) for i in Item.select())
    conflicts = sorted((c.id, c.kind, c.status) for c in Conflict.select())
    return cards, copies, conflicts


@pytest.mark.parametrize("first", ["earlier", "later"])
def test_one_card_given_at_two_desks_syncs_through_and_agrees(desks, first):
    _new(desks.one, "Bạn Lan")  # earlier by clock: keeps the card and the barcode
    _new(desks.two, "Bạn Minh")
    order = [desks.one, desks.two] if first == "earlier" else [desks.two, desks.one]
    for path in order + order:  # each pushes, then pulls the other's
        with opened(path) as ctx:
            agent.run_once(ctx, url=desks.hub.url)
            assert agent.get_state("last_error") is None
    states = []
    for path in (desks.hub_dir, desks.one, desks.two):
        with opened(path):
            states.append(_state())
    assert states[1] == states[0] and states[2] == states[0]
    cards, copies, conflicts = states[0]
    assert cards[0] == ("Bạn Lan", "A-0001") and cards[1][1].startswith("A-0001~")
    assert copies[0] == ("Sách của Bạn Lan", "A-C001") and copies[1][1].startswith("A-C001~")
    assert sorted((kind, status) for _, kind, status in conflicts) == [
        ("barcode_taken", "open"), ("card_taken", "open")]
    with opened(desks.two) as ctx:  # staff give Minh a new card: an edit, the conflict goes
        minh = Patron.get(Patron.name == "Bạn Minh")
        patrons.save(ctx, {"id": minh.id, "card": "A-0002"})
        agent.run_once(ctx, url=desks.hub.url)
        assert Conflict.select().where(Conflict.kind == "card_taken").count() == 0
    with opened(desks.hub_dir):
        assert Patron.get(Patron.name == "Bạn Minh").card == "A-0002"
        assert Conflict.select().where(Conflict.kind == "card_taken").count() == 0
