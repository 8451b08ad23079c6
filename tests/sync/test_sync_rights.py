"""Erasure across the town, through a real hub process (SQLite and PostgreSQL) and two
enrolled branches: B registers a card (its personal fields sealed with the card's key),
the key reaches the hub beside its event and never branch A, A lends under the card's
name; B erases the card at the patron's request, and after a sync the card is an
anonymous stand-in everywhere, the key is gone at the hub, the name is in no log, and
every node's chains and state still verify."""

import pytest

from appliance.core import circulation, patrons
from appliance.core.errors import NotFound
from appliance.core.models import Event, Patron, PatronKey
from appliance.core.rights import commands
from appliance.core.verify import verify
from sync import agent
from tests.sync.syncsupport import opened, running_town

A, B = "PY-DH01", "PY-DH02"
NAME, PHONE = "Phạm Thị Hoa", "0905246810"


def _log():
    return "".join(e.body for e in Event.select())


def test_an_erasure_reaches_every_node_and_leaves_the_name_nowhere(tmp_path, hub_db):
    with running_town(tmp_path, (A, B), hub_db, admin=None) as town:
        hub_dir, branches = town.hub_dir, town.branches
        with opened(branches[B]) as ctx:
            card = patrons.save(ctx, {"card": "B-0009", "name": NAME, "category": "adult",
                                      "phone": PHONE, "pin": "2468"})
            assert NAME not in _log() and PHONE not in _log()
            agent.run_once(ctx)
        with opened(hub_dir) as h:
            assert Patron.get_by_id(card.id).phone == PHONE  # opened with the key
            assert PatronKey.select().where(PatronKey.patron == card.id).exists()
        with opened(branches[A]) as ctx:
            agent.run_once(ctx)
            assert Patron.get_by_id(card.id).name == NAME  # the hub opened it for lending
            assert Patron.get_by_id(card.id).phone is None
            assert not PatronKey.select().exists()
        with opened(branches[B]) as ctx:
            commands.erase(ctx, "B-0009")
            agent.run_once(ctx)
            assert verify(ctx) == []
        with opened(hub_dir) as h:
            row = Patron.get_by_id(card.id)
            assert (row.name, row.phone, row.deleted) == ("—", None, True)
            assert not PatronKey.select().where(PatronKey.patron == card.id).exists()
            assert NAME not in _log() and verify(h) == []
        with opened(branches[A]) as ctx:
            agent.run_once(ctx)
            assert Patron.get_by_id(card.id).name == "—"
            assert NAME not in _log() and verify(ctx) == []
            with pytest.raises(NotFound):  # no such card any more
                circulation.checkout(ctx, "B-0009", "x")
