"""Conflicts said in words and settled by staff, the choice syncing through a real hub.

A card's phone is changed at the branch's desk and at the town hub before they meet:
both then hold one conflict. The branch's conflicts page says what each place set, where,
by whom and when (in the library's time zone); the librarian chooses, and the choice is
a `conflict.resolved` event that the hub applies on the next sync."""

import re

import pytest

from appliance.core import conflicts, patrons, users
from appliance.core.models import AuditEntry, Conflict, Patron
from appliance.web import create_app
from tests.sync.syncsupport import (  # noqa: F401  (hub_db: the fixture)
    hub_db_fixture,
    opened,
    running_town,
    seed,
    sync_until_done,
)

PASSWORD = "mat-khau-thu-vien"
LIB = "PY-DH01"


@pytest.fixture
def town(tmp_path, hub_db):
    """A hub and one branch whose first card has reached the hub."""
    with running_town(tmp_path, (LIB,), hub_db, admin=None) as town:
        with opened(town.branches[LIB]) as ctx:
            cards, _codes = seed(ctx, n_items=1, n_patrons=1)
            sync_until_done(ctx, town.hub.url)
        town.branch, town.card = town.branches[LIB], cards[0]
        yield town


def _desk(ctx):
    users.create(ctx, "thuthu", PASSWORD, "librarian")
    client = create_app(ctx, testing=True).test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "thuthu", "password": PASSWORD,
                                "csrf_token": token})
    return client


def _csrf(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_a_conflict_is_said_in_words_and_its_resolution_syncs(town):
    hub, hub_dir, card = town.hub, town.hub_dir, town.card
    with opened(hub_dir) as h:  # the town's staff fix the phone at the hub
        patrons.save(h, {"id": patrons.find(h, card).id, "phone": "0905111111"})
    with opened(town.branch) as ctx:
        desk = _desk(ctx)
        form = desk.get(f"/desk/patrons/{card}/edit").text
        values = {"card": card, "name": "Bạn đọc 0", "category": "adult",
                  "phone": "0905222222", "csrf_token": _csrf(form)}
        assert desk.post(f"/desk/patrons/{card}/edit", data=values).status_code == 302
        sync_until_done(ctx, hub.url)
        conflict = Conflict.get(Conflict.kind == "edit_conflict")
        page = desk.get("/desk/conflicts").text
        section = page[page.index(f'id="conflict-{conflict.id}"'):]
        section = section[:section.index("</section>")]
        assert "Hai nơi đã sửa cùng một trường" in section
        assert "số điện thoại của thẻ " + card in section
        assert "0905111111" in section and "0905222222" in section
        assert "thuthu" in section and "Thư viện PY-DH01" in section
        assert re.search(r"lúc \d\d/\d\d/\d{4} \d\d:\d\d", section)
        assert "{&#34;" not in section and '{"' not in section  # no raw JSON
        assert 'value="keep_other"' in section and 'value="by_hand"' in section
        assert AuditEntry.select().where(  # the look at the patron's phone, kept
            (AuditEntry.action == "conflicts") & (AuditEntry.username == "thuthu")
            & (AuditEntry.patron == conflict.entity)).exists()
        done = desk.post(f"/desk/conflicts/{conflict.id}/resolve", follow_redirects=True,
                         data={"choice": "by_hand", "csrf_token": _csrf(page)}).text
        assert "Đã giải quyết xung đột." in done
        assert "Chấp nhận cả hai và sửa bằng tay" in done
        sync_until_done(ctx, hub.url)
    with opened(hub_dir):
        seen = Conflict.get_by_id(conflict.id)
        assert (seen.status, seen.resolution, seen.resolved_by) == (
            "resolved", "by_hand", "thuthu")


def test_keeping_the_other_side_writes_its_value_again(town):
    """"Keep the other side": the lost value stands, as an edit that follows both."""
    hub, hub_dir = town.hub, town.hub_dir
    with opened(town.branch) as ctx:
        patron_id = patrons.find(ctx, town.card).id
        patrons.save(ctx, {"id": patron_id, "phone": "0905000001"})
    with opened(hub_dir) as h:
        patrons.save(h, {"id": patron_id, "phone": "0905000002"})
    with opened(town.branch) as ctx:
        sync_until_done(ctx, hub.url)
        conflict = Conflict.get(Conflict.kind == "edit_conflict")
        lost = conflict.details["lost"]
        conflicts.resolve(ctx, conflict.id, conflicts.KEEP_OTHER)
        assert Patron.get_by_id(patron_id).phone == lost
        sync_until_done(ctx, hub.url)
    with opened(hub_dir):
        assert Patron.get_by_id(patron_id).phone == lost
        assert not Conflict.select().where((Conflict.kind == "edit_conflict")
                                           & (Conflict.status == "open")).exists()
