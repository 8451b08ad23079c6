"""Authority between libraries: a branch changes only its own library's records.

Both attacks of the field report, through a real hub process and two enrolled branches:
a patron of library B edited at A's desk, and a copy created at A for B through the API.
A's desk and API refuse them; a forged A that records the events anyway (core's
events.record, past every check of its own) gets them quarantined at the hub: not
applied there, not pulled by B, shown to hub staff with device, account and reason.
"""

import re

import pytest
import requests

from appliance.core import authority, events, patrons, users
from appliance.core.authority import Quarantine
from appliance.core.errors import Forbidden
from appliance.core.ids import new_id
from appliance.core.models import Event, Item, Patron
from appliance.core.verify import verify
from sync import agent
from tests.conftest import PASSWORD
from tests.sync.syncsupport import HubProcess, hub_holds_exactly, opened, running_town, seed

A, B = "PY-DH01", "PY-DH02"


@pytest.fixture
def town(tmp_path, hub_db):
    with running_town(tmp_path, (A, B), hub_db, admin="quantri") as town:
        town.a, town.b = town.branches[A], town.branches[B]
        with opened(town.b) as ctx:
            cards, codes = seed(ctx, n_items=2, n_patrons=2)
            town.victim = patrons.find(ctx, cards[0])
            town.snapshot = _patron_row(town.victim.id)
            agent.run_once(ctx)
        with opened(town.a) as ctx:
            seed(ctx, n_items=1, n_patrons=1)
            agent.run_once(ctx)  # A now holds B's cards, as every branch does
            assert Patron.get_by_id(town.victim.id).library == B
            town.origin_a = ctx.origin
        yield town


def _patron_row(patron_id):
    row = Patron.get_by_id(patron_id)
    return {k: getattr(row, k) for k in ("phone", "email", "pin_hash", "blocked", "library")}


def test_the_desk_of_a_refuses_to_edit_a_patron_of_b(town):
    with opened(town.a) as ctx:
        before = events.head(ctx.origin)[0]
        with pytest.raises(Forbidden) as err:
            patrons.save(ctx, {"id": town.victim.id, "phone": "0900000000",
                               "email": "ke.gian@example.vn", "pin": "9999"})
        assert err.value.code == "other_library" and err.value.status == 403
        with pytest.raises(Forbidden):
            patrons.block(ctx, town.victim.card, "mất thẻ")
        with pytest.raises(Forbidden):
            patrons.save(ctx, {"card": "NEW-B-1", "name": "Người lạ", "category": "adult"},
                         library=B)
        assert events.head(ctx.origin)[0] == before, "nothing was recorded"
        assert _patron_row(town.victim.id) == town.snapshot


def test_the_api_of_a_refuses_a_copy_for_b_in_vietnamese(town):
    with opened(town.a) as ctx:
        users.create(ctx, "thuthu", PASSWORD, "librarian")
        bib_id = Item.select().first().bib_id
        before = events.head(ctx.origin)[0]
    with HubProcess(town.a) as branch_web:  # A's own server, on loopback
        token = requests.post(f"{branch_web.url}/api/v1/session", timeout=10, json={
            "username": "thuthu", "password": PASSWORD}).json()["token"]
        r = requests.post(f"{branch_web.url}/api/v1/items", timeout=10,
                          headers={"Authorization": f"Bearer {token}"},
                          json={"bib_id": bib_id, "barcode": "B-FROM-A", "library": B})
        assert r.status_code == 403, r.text
        error = r.json()["error"]
        assert error["code"] == "other_library"
        assert error["message"] == (f"Bản sách B-FROM-A thuộc thư viện {B}: chỉ thư viện đó "
                                    "được sửa.")
        ok = requests.post(f"{branch_web.url}/api/v1/items", timeout=10,
                           headers={"Authorization": f"Bearer {token}"},
                           json={"bib_id": bib_id, "barcode": "A-OWN-1"})
        assert ok.status_code == 201, "A's own copies are still A's to add"
    with opened(town.a) as ctx:
        assert not Item.select().where(Item.barcode == "B-FROM-A").exists()
        assert events.head(ctx.origin)[0] == before + 1


def _forge(ctx, victim, bib_id):
    """What a stolen or altered Pi of A could send: events its desk would refuse,
    recorded straight into its log, between two honest ones."""
    patrons.save(ctx, {"card": "A-HONEST-1", "name": "Bạn đọc thật", "category": "adult"})
    edit = events.record(ctx, "patron.saved", {
        "id": victim.id, "at": ctx.clock.iso_now(), "base": {}, "actor": "thuthu-a",
        "fields": {"phone": "0900000000", "email": "ke.gian@example.vn", "blocked": True,
                   "block_reason": "chiếm thẻ", "pin_hash": "forged"}}, library=B)
    copy = events.record(ctx, "item.saved", {
        "id": new_id(), "at": ctx.clock.iso_now(), "base": {},
        "fields": {"bib": bib_id, "barcode": "B-FORGED", "library": B, "item_type": "book",
                   "status": "available", "accession_date": "2026-01-01"}}, library=B)
    moved = events.record(ctx, "patron.saved", {  # a take-over dressed as A's own event
        "id": victim.id, "at": ctx.clock.iso_now(), "base": {},
        "fields": {"library": A}}, library=A)
    patrons.save(ctx, {"card": "A-HONEST-2", "name": "Bạn đọc thật 2", "category": "adult"})
    return [edit.id, copy.id, moved.id]


def test_a_forged_branch_is_quarantined_at_the_hub_and_b_gets_nothing(town):
    with opened(town.a) as ctx:
        bib_id = Item.select().first().bib_id
        forged = _forge(ctx, town.victim, bib_id)
        head = events.head(ctx.origin)[0]
        result = agent.run_once(ctx)
        assert result["cursor"] == head, "the chain goes on past what was refused"
        patrons.save(ctx, {"card": "A-HONEST-3", "name": "Sau đó", "category": "adult"})
        assert agent.run_once(ctx)["cursor"] == head + 2  # the card's key, then the card

    with opened(town.hub_dir):
        held = {q.event_id: q for q in Quarantine.select()}
        assert set(held) == set(forged)
        for q in held.values():
            assert q.origin == town.origin_a and q.device_library == A
            assert q.code == "other_library"
        assert held[forged[0]].actor == "thuthu-a" and held[forged[0]].kind == "patron.saved"
        assert _patron_row(town.victim.id) == town.snapshot, "the hub applied none of it"
        assert not Item.select().where(Item.barcode == "B-FORGED").exists()
        honest = {p.card for p in Patron.select().where(Patron.library == A)}
        assert {"A-HONEST-1", "A-HONEST-2", "A-HONEST-3"} <= honest
        assert Event.select().where(Event.id << forged).count() == 3  # held, not lost
    hub_holds_exactly(town.hub_dir, town.origin_a, head + 2)  # chain whole, verify == []

    with opened(town.b) as ctx:
        agent.run_once(ctx)
        assert not Event.select().where(Event.id << forged).exists(), "B pulled none of it"
        assert _patron_row(town.victim.id) == town.snapshot
        assert not Item.select().where(Item.barcode == "B-FORGED").exists()
        assert Patron.select().where(Patron.card == "A-HONEST-3").exists(), "B still syncs"
        assert verify(ctx) == []

    session = requests.Session()
    login = session.get(f"{town.hub.url}/login", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    session.post(f"{town.hub.url}/login", timeout=10, data={
        "username": "quantri", "password": PASSWORD, "csrf_token": csrf})
    page = session.get(f"{town.hub.url}/desk/conflicts", timeout=10).text
    assert "Sự kiện bị cách ly" in page
    table = page[page.index('id="quarantine"'):]
    assert town.origin_a in table and "thuthu-a" in table
    assert (f"Thiết bị của thư viện {A} không được sửa bạn đọc của thư viện {B}."
            in table)
    assert f"không được sửa bản sách của thư viện {B}." in table


def test_the_hub_refuses_again_a_batch_sent_twice(town):
    """A batch whose answer was lost comes again: held events are not noted twice, and
    what was refused stays refused."""
    with opened(town.a) as ctx:
        forged = _forge(ctx, town.victim, Item.select().first().bib_id)
        evs = [events.to_dict(e) for e in events.since(ctx.origin, 0, 10**6)]
    from sync import quarantine
    from sync.models import Device
    with opened(town.hub_dir) as hub:
        dev = Device.get_by_id(town.origin_a)
        first = quarantine.ingest(hub, dev, evs, "2026-11-30T00:00:00+00:00")
        again = quarantine.ingest(hub, dev, evs, "2026-11-30T00:01:00+00:00")
        assert first["quarantined"] == 3 and again["quarantined"] == 0
        assert again["applied"] == 0 and again["skipped"] == len(evs)
        assert Quarantine.select().count() == 3
        assert verify(hub) == []
        assert authority.held_back().count() == 3
        assert forged
