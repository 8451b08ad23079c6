"""Requests between two libraries and the town's hub (a real hub process, on SQLite and
on PostgreSQL): a patron of B asks B for a loan by post and for a copy; B answers and
lends; the hub's town queue shows where each stands. The address of the post reaches
the hub and B's devices only, never A's. A forged A that moves B's request, or takes a
loan by post for B's patron, is quarantined at the hub and B never sees it."""

import re

from appliance.core import events, patrons
from appliance.core.authority import Quarantine
from appliance.core.ids import new_id
from appliance.core.models import Event, Item, RemoteRequest
from appliance.core.requests import commands
from appliance.core.verify import verify
from appliance.web import create_app
from sync import agent
from tests.factories import PASSWORD
from tests.sync.syncsupport import (  # noqa: F401  (hub_db: the fixture)
    hub_db_fixture,
    opened,
    running_town,
    seed,
)

A, B = "PY-DH01", "PY-DH02"
ADDRESS = "45 Lê Lợi, phường 2, Tuy Hòa"
FIELDS = ("library", "patron", "kind", "state", "address", "loan_id", "due_date", "reason")


def _rows():
    return {r.id: tuple(getattr(r, f) for f in FIELDS) for r in RemoteRequest.select()}


def _forge(ctx, copy_id, victim_id, bib_id):
    """What a stolen Pi of A could record straight into its log."""
    moved = events.record(ctx, "request.accepted", {
        "request_id": copy_id, "library": B, "at": ctx.clock.iso_now(), "actor": "ke-gian"},
        library=B)
    dressed = events.record(ctx, "request.refused", {  # as if the request were A's
        "request_id": copy_id, "library": A, "reason": "giả", "at": ctx.clock.iso_now()},
        library=A)
    taken = events.record(ctx, "request.placed", {  # an address kept away from home
        "request_id": new_id(), "library": A, "patron_id": victim_id, "kind": "postal_loan",
        "bib_id": bib_id, "title": "x", "address": "địa chỉ lạ", "at": ctx.clock.iso_now()},
        library=A)
    return [moved.id, dressed.id, taken.id]


def test_requests_sync_the_address_stays_home_forgeries_are_quarantined(tmp_path, hub_db):
    with running_town(tmp_path, (A, B), hub_db) as running:
        hub, hub_dir, branches = running.hub, running.hub_dir, running.branches
        with opened(branches[B]) as b:
            cards, codes = seed(b, n_items=2, n_patrons=1)
            patron = patrons.find(b, cards[0])
            bib_id = Item.get(Item.barcode == codes[0]).bib_id
            postal = commands.place(b, patron, "postal_loan", bib_id=bib_id, address=ADDRESS)
            copy = commands.place(b, patron, "copy", bib_id=bib_id, pages="1-3",
                                  purpose="nghiên cứu", copyright_ok=True)
            commands.accept(b, postal.id, actor="thuthu-b")
            commands.lend(b, postal.id, codes[1], actor="thuthu-b")
            agent.run_once(b, url=hub.url)
        with opened(branches[A]) as a:
            seed(a, n_items=1, n_patrons=1)
            agent.run_once(a, url=hub.url)
            assert not RemoteRequest.select().exists(), "B's requests are B's"
            assert not Event.select().where(Event.body.contains("Lê Lợi")).exists(), \
                "the address never reaches another library's branch"
            forged = _forge(a, copy.id, patron.id, bib_id)
            agent.run_once(a, url=hub.url)
        with opened(hub_dir) as h:
            held = {q.event_id: q.code for q in Quarantine.select()}
            assert held == {forged[0]: "other_library", forged[1]: "other_library",
                            forged[2]: "postal_not_home"}
            town = _rows()
            assert town[copy.id][3] == "requested", "the forged moves changed nothing"
            assert town[postal.id][3:5] == ("lent", ADDRESS) and town[postal.id][5]
            assert len(town) == 2 and verify(h) == []
            client = create_app(h, testing=True).test_client()
            token = re.search(r'name="csrf_token" value="([^"]+)"',
                              client.get("/login").text).group(1)
            client.post("/login", data={"username": "town", "password": PASSWORD,
                                        "csrf_token": token})
            queue = client.get("/desk/requests/").text
            assert f"/desk/requests/{copy.id}" in queue and "Thư viện PY-DH02" in queue
            assert "đã gửi mượn qua bưu điện" in queue
        with opened(branches[B]) as b:
            agent.run_once(b, url=hub.url)
            assert not Event.select().where(Event.id << forged).exists()
            assert _rows() == town, "B and the hub hold the same requests"
            assert verify(b) == []
        with opened(branches[A]) as a:
            agent.run_once(a, url=hub.url)
            assert not Event.select().where(Event.body.contains("Lê Lợi")).exists()
