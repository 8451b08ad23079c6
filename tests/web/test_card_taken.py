"""One card given to two new patrons at two places that could not reach each other: the
conflicts page and the second patron's page say so in Vietnamese, and giving that patron
a new card at the desk settles it."""

import re

from appliance.core import datadir, events, patrons
from appliance.core.context import Context
from appliance.core.models import AuditEntry, Conflict, Event, Patron
from appliance.web import create_app
from tests.conftest import staff_login


def _events_of(ctx):
    return [events.to_dict(e) for e in Event.select().where(Event.origin == ctx.origin)
            .order_by(Event.seq)]


def test_a_card_given_twice_is_said_in_words_and_a_new_card_settles_it(ctx, tmp_path):
    history = _events_of(ctx)
    ctx.close()
    hub = datadir.init(tmp_path / "hub", ctx.library, "Thư viện phường Hòa Hiệp Trung",
                       role="hub")
    events.ingest(hub, history)
    patrons.save(hub, {"card": "P0900", "name": "Lê Văn Cường", "category": "adult"})
    at_hub = _events_of(hub)
    hub.close()
    branch = Context.open(ctx.data_dir)
    patrons.save(branch, {"card": "P0900", "name": "Phạm Thị Dung", "category": "adult"})
    events.ingest(branch, at_hub)  # the earlier one arrives second: the card goes to it
    assert Patron.get(Patron.name == "Lê Văn Cường").card == "P0900"
    dung = Patron.get(Patron.name == "Phạm Thị Dung")
    conflict = Conflict.get(Conflict.kind == "card_taken")
    client = create_app(branch, testing=True).test_client()
    staff_login(client)
    page = client.get("/desk/conflicts").get_data(as_text=True)
    section = page[page.index(f'id="conflict-{conflict.id}"'):]
    section = re.sub(r"\s+", " ", section[:section.index("</section>")])
    assert "Một số thẻ được cấp cho hai bạn đọc" in section
    assert "Lê Văn Cường giữ thẻ số P0900" in section
    assert f"Phạm Thị Dung, được cấp cùng số thẻ; số thẻ trùng, tạm để là {dung.card}" in section
    cuong = Patron.get(Patron.name == "Lê Văn Cường")
    assert {e.patron for e in AuditEntry.select().where(  # a look at both, kept
        (AuditEntry.action == "conflicts") & (AuditEntry.username == "thuthu"))} == {
        cuong.id, dung.id}
    page = re.sub(r"\s+", " ", client.get(f"/desk/patrons/{dung.card}").get_data(as_text=True))
    assert "Số thẻ trùng" in page and "thẻ số P0900 cũng đã được cấp" in page
    assert client.get("/desk/patrons/P0900").status_code == 200
    assert "Số thẻ trùng" not in client.get("/desk/patrons/P0900").get_data(as_text=True)
    patrons.save(branch, {"id": dung.id, "card": "P0901"})  # staff give her a new card
    assert Patron.get_by_id(dung.id).card == "P0901"
    assert Conflict.select().where(Conflict.kind == "card_taken").count() == 0
    branch.close()
