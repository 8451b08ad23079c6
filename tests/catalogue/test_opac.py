"""OPAC pages: search, record page with JSON-LD, new items feed, patron account."""

import json
import re
import xml.etree.ElementTree as ET

from appliance.core import circulation
from appliance.core.models import Bib
from tests.conftest import csrf_token as _csrf
from tests.factories import loans_fall_due_today


def _login(client, card="P0001", pin="1234"):
    token = _csrf(client, "/opac/login")
    return client.post("/opac/login", data={"csrf_token": token, "card": card, "pin": pin})


def test_search_page_folds_and_shows_copies(client):
    html = client.get("/opac/?q=truyen+kieu").get_data(as_text=True)
    assert "Truyện Kiều" in html and "1001" not in html  # barcodes are not shown to the public
    assert "PY-DH01" in html and 'lang="vi"' in html and "Tra cứu mục lục" in html
    assert "Skip to content" in html or "Chuyển đến nội dung" in html
    bad = client.get("/opac/?q=truyen&page=abc&year_from=x")  # said, not ignored
    assert bad.status_code == 400 and "page phải là số nguyên" in bad.get_data(as_text=True)
    en = client.get("/opac/?q=kieu&lang=en").get_data(as_text=True)
    assert 'lang="en"' in en


def test_record_page_has_json_ld_book_with_offers(client, ctx):
    bib = Bib.get(Bib.title == "Truyện Kiều")
    html = client.get(f"/opac/record/{bib.id}").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html,
                                re.S).group(1))
    assert data["@type"] == "Book" and data["name"] == "Truyện Kiều"
    assert data["isbn"] == "9786040000019"
    assert [o["availability"] for o in data["offers"]] == ["https://schema.org/InStock"]
    circulation.checkout(ctx, "P0002", "1001")
    data = json.loads(re.search(r'ld\+json">(.*?)</script>',
                                client.get(f"/opac/record/{bib.id}").get_data(as_text=True),
                                re.S).group(1))
    assert data["offers"][0]["availability"] == "https://schema.org/OutOfStock"
    assert client.get("/opac/record/nope").status_code == 404


def test_new_acquisitions_page_and_atom_feed(client):
    assert "Truyện Kiều" in client.get("/opac/new").get_data(as_text=True)
    resp = client.get("/opac/new.atom")
    assert resp.mimetype == "application/atom+xml"
    feed = ET.fromstring(resp.data)
    entries = feed.findall("{http://www.w3.org/2005/Atom}entry")
    assert len(entries) == 5


def test_patron_login_loans_renew_holds_history(client, ctx):
    circulation.checkout(ctx, "P0001", "1002")
    assert client.get("/opac/account").status_code in (302, 401)
    bad = _login(client, pin="9999")
    assert bad.status_code == 401
    assert _login(client, card="NOPE").status_code == 401
    assert _login(client).status_code == 302
    html = client.get("/opac/account").get_data(as_text=True)
    assert "Số đỏ" in html
    token = _csrf(client, "/opac/account")
    r = client.post("/opac/account/renew", data={"csrf_token": token, "barcode": "1002"},
                    follow_redirects=True)  # the same day: it would not move the due date
    assert "không lùi được hạn trả" in r.get_data(as_text=True)
    loans_fall_due_today(ctx)
    client.post("/opac/account/renew", data={"csrf_token": token, "barcode": "1002"})
    assert "1002" in client.get("/opac/account").get_data(as_text=True)
    # somebody else's loan cannot be renewed from this account
    circulation.checkout(ctx, "P0002", "1003")
    r = client.post("/opac/account/renew", data={"csrf_token": token, "barcode": "1003"},
                    follow_redirects=True)
    assert "1003" in r.get_data(as_text=True)
    from appliance.core.models import Hold, Loan

    assert Loan.get(Loan.item == ctx_item(ctx, "1003")).renewals == 0
    assert Loan.get(Loan.item == ctx_item(ctx, "1002")).renewals == 1
    # place and cancel a hold on a record that is out
    bib = Bib.get(Bib.title == "Dế Mèn phiêu lưu ký")
    client.post("/opac/hold", data={"csrf_token": token, "bib_id": bib.id})
    hold = Hold.get(Hold.bib == bib.id)
    assert hold.status == "waiting"
    client.post(f"/opac/hold/{hold.id}/cancel", data={"csrf_token": token})
    assert Hold.get_by_id(hold.id).status == "cancelled"
    # reading history: off by default, turned on, shows returned loans
    assert 'id="history"' not in client.get("/opac/account").get_data(as_text=True)
    client.post("/opac/account/history", data={"csrf_token": token, "keep": "1"})
    circulation.checkin(ctx, "1002")
    html = client.get("/opac/account").get_data(as_text=True)
    assert 'id="history"' in html and "Số đỏ" in html
    # a patron reaches no staff page
    assert client.get("/desk/").status_code in (302, 401, 403)


def ctx_item(ctx, barcode):
    from appliance.core import catalogue
    return catalogue.get_item(ctx, barcode).id


def test_search_page_says_when_facets_count_only_the_first_hits(client, monkeypatch):
    from appliance.core import search

    assert 'id="facet-note"' not in client.get("/opac/").get_data(as_text=True)
    monkeypatch.setattr(search, "FACET_HITS", 2)
    html = client.get("/opac/").get_data(as_text=True)
    assert "Số đếm tính trên 2 kết quả đầu tiên trong 5 kết quả" in html


def test_atom_feed_escapes_every_title(client, ctx):
    from lxml import etree

    from appliance.core import catalogue

    title = "<script>alert(1)</script> Tom & Jerry \x1b"
    bib = catalogue.save_bib(ctx, {"title": title, "authors": ["Lê & <b>Lý</b>"]})
    catalogue.save_item(ctx, {"bib": bib.id, "barcode": "9001", "accession_date": "2099-01-01"})
    resp = client.get("/opac/new.atom")
    feed = etree.fromstring(resp.data)  # strict: a raw & or control byte raises
    atom = {"a": "http://www.w3.org/2005/Atom"}
    first = feed.find("a:entry", atom)
    assert first.findtext("a:title", namespaces=atom) == title.replace("\x1b", "")
    assert first.findtext("a:author/a:name", namespaces=atom) == "Lê & <b>Lý</b>"
    assert feed.find(".//a:script", atom) is None and feed.find(".//script") is None
    assert b"<script>" not in resp.data
