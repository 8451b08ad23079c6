"""Reading history in the patron account: it starts when turned on, and erasing it
starts it again, so loans returned before are no longer shown to the patron."""

import re

from appliance.core import circulation
from appliance.core.clock import pack
from appliance.core.models import Patron
from tests.conftest import csrf_token as _csrf


def _history(client):
    html = client.get("/opac/account").get_data(as_text=True)
    found = re.search(r'<ul id="history">(.*?)</ul>', html, re.S)
    return found.group(1) if found else None


def _later(ctx, seconds):
    """Move the clock past the second of the last return (returns are kept to the second)."""
    ctx.clock.observe(pack(ctx.clock.highest_ms() + seconds * 1000, 0))


def test_history_starts_when_turned_on_and_erasing_starts_it_again(client, ctx):
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkin(ctx, "1001")  # returned while the history is off
    _later(ctx, 2)
    token = _csrf(client, "/opac/login")
    client.post("/opac/login", data={"csrf_token": token, "card": "P0001", "pin": "1234"})
    token = _csrf(client, "/opac/account")
    assert _history(client) is None
    r = client.post("/opac/account/history/erase", data={"csrf_token": token},
                    follow_redirects=True)
    assert "không có gì để xoá" in r.get_data(as_text=True)
    client.post("/opac/account/history", data={"csrf_token": token, "keep": "1"})
    assert "Truyện Kiều" not in _history(client)  # returned before the history was on
    circulation.checkout(ctx, "P0001", "1002")
    circulation.checkin(ctx, "1002")
    assert "Số đỏ" in _history(client)
    _later(ctx, 2)
    before = Patron.get(Patron.card == "P0001").field_hlc["keep_history"]
    r = client.post("/opac/account/history/erase", data={"csrf_token": token},
                    follow_redirects=True)
    assert "Đã xoá lịch sử đọc" in r.get_data(as_text=True)
    patron = Patron.get(Patron.card == "P0001")
    assert patron.keep_history and patron.field_hlc["keep_history"] > before
    assert "Số đỏ" not in _history(client)
    circulation.checkout(ctx, "P0001", "1003")
    circulation.checkin(ctx, "1003")
    page = _history(client)
    assert "Dế Mèn" in page and "Số đỏ" not in page and "Truyện Kiều" not in page
    # without the CSRF token nothing happens
    stamp = patron.field_hlc["keep_history"]
    assert client.post("/opac/account/history/erase").status_code == 400
    assert Patron.get(Patron.card == "P0001").field_hlc["keep_history"] == stamp


def _switch_value(client, endpoint, name):
    """The value the account page's switch form for `endpoint` posts."""
    html = client.get("/opac/account").get_data(as_text=True)
    form = re.search(r'<form method="post" action="/opac/account/%s">(.*?)</form>' % endpoint,
                     html, re.S)
    return re.search(r'name="%s" value="(\d)"' % name, form.group(1)).group(1)


def test_the_account_switches_offer_the_other_state(client, ctx):
    client.post("/opac/login", data={"csrf_token": _csrf(client, "/opac/login"),
                                     "card": "P0001", "pin": "1234"})
    token = _csrf(client, "/opac/account")
    assert _switch_value(client, "history", "keep") == "1"  # off: the form turns it on
    assert _switch_value(client, "suggestions", "on") == "1"
    client.post("/opac/account/history", data={"csrf_token": token, "keep": "1"})
    client.post("/opac/account/suggestions", data={"csrf_token": token, "on": "1"})
    assert _switch_value(client, "history", "keep") == "0"
    assert _switch_value(client, "suggestions", "on") == "0"
    assert "Tắt lịch sử đọc" in client.get("/opac/account").get_data(as_text=True)
