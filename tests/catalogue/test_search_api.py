"""GET /api/v1/search takes the OPAC's filters and sorts, through a real server."""

import pytest
import requests

from appliance.core import catalogue, search
from appliance.core.errors import Invalid
from appliance.core.fold import sort_key

BOOKS = [("Lịch sử Đông Hòa", "vie", 2019, "PY-DH01"), ("Hoà bình", "vie", 1990, "PY-DH02"),
         ("Hoa học trò", "vie", 2001, "PY-DH01"), ("Peace at Dong Hoa", "eng", 2010, "PY-DH02")]


@pytest.fixture
def books(cat_ctx):
    for n, (title, lang, year, lib) in enumerate(BOOKS):
        bib = catalogue.save_bib(cat_ctx, {"title": title, "language": lang, "year": year})
        catalogue.save_item(cat_ctx, {"bib": bib.id, "barcode": f"B{n:04d}", "library": lib})
    lost = catalogue.get_item(cat_ctx, "B0001", library="PY-DH02")
    catalogue.save_item(cat_ctx, {"id": lost.id, "status": "lost"})


def _get(server, **params):
    return requests.get(f"{server.url}/api/v1/search", params=params, timeout=10)


def _titles(server, **params):
    r = _get(server, **params)
    assert r.status_code == 200, r.text
    return [h["title"] for h in r.json()["results"]]


def test_filters_and_sorts_through_the_api(books, cat_server):
    assert set(_titles(cat_server, q="hoa")) == {t for t, *_ in BOOKS}
    assert _titles(cat_server, q="hoa", language="eng") == ["Peace at Dong Hoa"]
    assert set(_titles(cat_server, q="hoa", year_from="2000", year_to="2015")) == {
        "Hoa học trò", "Peace at Dong Hoa"}
    assert set(_titles(cat_server, q="hoa", in_library="PY-DH02")) == {
        "Hoà bình", "Peace at Dong Hoa"}
    assert "Hoà bình" not in _titles(cat_server, q="hoa", available="1")
    by_title = _titles(cat_server, sort="title")
    assert by_title == sorted(by_title, key=sort_key) and len(by_title) == 4
    assert _titles(cat_server, q="hoa", sort="newest")[0] == "Lịch sử Đông Hòa"
    r = _get(cat_server, q="hoa", per_page="2", page="2")
    assert r.json()["total"] == 4 and len(r.json()["results"]) == 2
    # availability per record comes with each hit
    hit = _get(cat_server, q="hoa binh").json()["results"][0]
    assert hit["availability"] == {"total": 1, "available": 0}


def test_bad_options_are_clear_4xx_errors(books, cat_server):
    for params, code in (({"sort": "price"}, "bad_sort"), ({"year_from": "199x"}, "bad_number"),
                         ({"per_page": "1000"}, "bad_number"), ({"available": "maybe"},
                                                                 "bad_filter")):
        r = _get(cat_server, q="hoa", **params)
        assert r.status_code == 400 and r.json()["error"]["code"] == code, params
    r = requests.get(f"{cat_server.url}/api/v1/search", params={"sort": "price"},
                     headers={"Accept-Language": "vi"}, timeout=10)
    assert "Sắp xếp" in r.json()["error"]["message"]


def test_search_options_is_pure_and_strict():
    assert search.search_options({}) == {"sort": "relevance"}
    assert search.search_options({"sort": "title", "year_to": " 2001 ", "available": "on",
                                  "item_type": "book"}) == {
        "sort": "title", "year_to": 2001, "available": True, "item_type": "book"}
    with pytest.raises(Invalid):
        search.search_options({"year_to": "-1"})
