"""Two loans of one copy, made at two places that could not reach each other, said in
words on the conflicts page: which reader has which loan, where and when, which stands."""

import re

from appliance.core import circulation, datadir, events
from appliance.core.context import Context
from appliance.core.models import AuditEntry, Conflict, Event, Patron
from appliance.web import create_app
from tests.conftest import staff_login


def _events_of(ctx):
    return [events.to_dict(e) for e in Event.select().where(Event.origin == ctx.origin)
            .order_by(Event.seq)]


def test_two_loans_of_one_copy_are_said_in_words(ctx, tmp_path):
    history = _events_of(ctx)
    ctx.close()
    hub = datadir.init(tmp_path / "hub", ctx.library, "Thư viện phường Hòa Hiệp Trung",
                       role="hub")
    events.ingest(hub, history)
    circulation.checkout(hub, "P0002", "1001")  # lent at the hub's desk...
    at_hub = _events_of(hub)
    hub.close()
    branch = Context.open(ctx.data_dir)
    circulation.checkout(branch, "P0001", "1001")  # ...and at the branch, later
    events.ingest(branch, at_hub)
    conflict = Conflict.get(Conflict.kind == "loaned_twice")
    client = create_app(branch, testing=True).test_client()
    staff_login(client)
    page = client.get("/desk/conflicts").get_data(as_text=True)
    section = page[page.index(f'id="conflict-{conflict.id}"'):]
    section = re.sub(r"\s+", " ", section[:section.index("</section>")])
    assert "Một bản sách được cho mượn ở hai nơi" in section
    assert "Bản sách 1001 được cho mượn ở hai nơi" in section
    assert re.search(r"cho thẻ P0001 \(Nguyễn Văn An\) mượn, hạn trả \d\d/\d\d/\d{4}", section)
    assert "cho thẻ P0002 (Trần Thị Bình) mượn; lượt mượn này đã được đóng lại" in section
    assert section.index("P0001") < section.index("P0002")  # the standing one first
    assert 'value="keep_standing"' in section and 'value="keep_other"' not in section
    readers = {p.id for p in Patron.select().where(Patron.card << ["P0001", "P0002"])}
    assert {e.patron for e in AuditEntry.select().where(  # both readers seen: kept
        (AuditEntry.action == "conflicts") & (AuditEntry.username == "thuthu"))} == readers
    branch.close()
