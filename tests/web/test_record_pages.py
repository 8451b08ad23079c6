"""Record and copy pages say what a librarian or reader needs: the library's name (not
its code), when a copy on loan is due back, and every time on the library's clock."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from appliance.core import catalogue, circulation
from tests.conftest import staff_login

LIBRARY_NAME = "Thư viện phường Hòa Hiệp Trung"


def test_desk_record_names_the_library_and_the_due_date(client, ctx):
    staff_login(client)
    circulation.checkout(ctx, "P0001", "1001")
    html = client.get(f"/desk/bibs/{ctx.bibs[0].id}").get_data(as_text=True)
    copies = html.split('id="copies"')[1].split("</table>")[0]
    assert LIBRARY_NAME in copies and "PY-DH01" not in copies
    due = circulation_due(ctx, "1001")
    assert f"hạn trả {due}" in copies
    assert '<dl class="record">' in html
    assert "<dt>ISBN</dt>" in html
    # an empty field is left out rather than shown as a label with nothing after it
    assert not re.search(r"<dd>\s*</dd>", html)


def test_opac_record_names_the_library_and_the_due_date(client, ctx):
    circulation.checkout(ctx, "P0001", "1001")
    html = client.get(f"/opac/record/{ctx.bibs[0].id}").get_data(as_text=True)
    copies = html.split("<tbody>")[1].split("</tbody>")[0]
    assert LIBRARY_NAME in copies and "PY-DH01" not in copies
    assert f"hạn trả {circulation_due(ctx, '1001')}" in copies
    assert "P0001" not in html  # who borrowed it is not shown
    assert '<dl class="record">' in html
    assert f'"name": "{LIBRARY_NAME}"' in html  # the JSON-LD offer names it too


def test_copy_history_and_loans_in_the_library_time_zone(client, ctx):
    staff_login(client)
    circulation.checkout(ctx, "P0001", "1001")
    item = catalogue.get_item(ctx, "1001")
    history = catalogue.copy_history(item)
    assert history, "the copy has no history to show"
    html = client.get("/desk/items/1001").get_data(as_text=True)
    assert LIBRARY_NAME in html
    assert f"hạn trả {circulation_due(ctx, '1001')}" in html
    zone = ZoneInfo("Asia/Ho_Chi_Minh")
    for change in history:
        at = datetime.fromisoformat(change["at"])
        assert at.tzinfo is not None
        local = at.astimezone(zone).strftime("%d/%m/%Y %H:%M")
        utc = at.astimezone(ZoneInfo("UTC")).strftime("%d/%m/%Y %H:%M")
        assert f'{local}</time>' in html
        assert f'{utc}</time>' not in html


def circulation_due(ctx, barcode):
    from appliance.core.models import Item, Loan
    loan = Loan.get((Loan.item == Item.get(Item.barcode == barcode).id)
                    & Loan.returned_at.is_null())
    return datetime.fromisoformat(loan.due_date).strftime("%d/%m/%Y")


def test_times_from_the_event_log_show_on_the_library_clock(app, ctx):
    """An event's wall time is UTC (and a copy made at the hub or another device carries
    that device's offset): pages show it on the library's own clock."""
    from flask import g

    from appliance.core.models import Library
    from appliance.web.helpers import vndate
    with app.test_request_context():
        g.ctx = ctx
        assert vndate("2026-11-30T21:10:00.123+00:00") == "01/12/2026 04:10"
        assert vndate("2026-12-01T05:10:00+08:00") == "01/12/2026 04:10"
        assert vndate("2026-12-01") == "01/12/2026"  # a date stays a date
    Library.update(timezone="Asia/Tokyo").where(Library.code == ctx.library).execute()
    with app.test_request_context():
        g.ctx = ctx
        assert vndate("2026-11-30T21:10:00+00:00") == "01/12/2026 06:10"
