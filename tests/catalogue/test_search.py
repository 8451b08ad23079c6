"""FTS5 search with Vietnamese folding, fields, phrases, prefixes, facets and sorts."""

import pytest

from appliance.core import catalogue, circulation, search  # noqa: F401
from appliance.core.errors import Invalid
from appliance.core.fold import sort_key

BOOKS = [
    ("Lịch sử Đông Hòa", ["Nguyễn Thị Thuý"], "vie", 2019, ["Lịch sử địa phương"], "959.7"),
    ("Hoa học trò", ["Trần Văn An"], "vie", 2001, ["Thơ"], "895.9221"),
    ("Đất rừng phương Nam", ["Đoàn Giỏi"], "vie", 1957, ["Tiểu thuyết"], "895.9223"),
    ("Dế Mèn phiêu lưu ký", ["Tô Hoài"], "vie", 1941, ["Văn học thiếu nhi"], "895.9223"),
    ("Hóa học đại cương", ["Lê Hoà"], "vie", 2015, ["Hóa học"], "540"),
    ("The Tale of Kieu", ["Nguyễn Du"], "eng", 1983, ["Poetry"], "895.9221"),
]


@pytest.fixture
def books(cat_ctx):
    ids = {}
    for n, (title, authors, lang, year, subjects, ddc) in enumerate(BOOKS):
        bib = catalogue.save_bib(cat_ctx, {"title": title, "authors": authors, "language": lang,
                                           "year": year, "subjects": subjects, "ddc": ddc})
        lib = "PY-DH01" if n % 2 == 0 else "PY-DH02"
        catalogue.save_item(cat_ctx, {"bib": bib.id, "barcode": f"DH{n:04d}", "library": lib,
                                      "call_number": f"{ddc} X{n}",
                                      "item_type": "reference" if n == 4 else "book"})
        ids[title] = bib.id
    return ids


def titles(q, **kw):
    return [r["title"] for r in search.search(q, per_page=50, **kw)["results"]]


def test_queries_without_diacritics_find_words_with_them(books):
    assert titles("dong hoa") == ["Lịch sử Đông Hòa"]
    assert titles("DAT RUNG") == ["Đất rừng phương Nam"]
    assert titles("de men") == ["Dế Mèn phiêu lưu ký"]


def test_old_and_new_tone_placement_find_each_other(books):
    assert set(titles("hoà")) == set(titles("hòa")) == set(titles("hoa"))
    assert titles("thúy") == titles("thuý") == ["Lịch sử Đông Hòa"]


def test_exact_diacritics_rank_first(books):
    assert titles("hòa")[0] in ("Lịch sử Đông Hòa", "Hóa học đại cương")
    assert titles("hòa")[:2] == ["Lịch sử Đông Hòa", "Hóa học đại cương"][:2] or \
        set(titles("hòa")[:2]) == {"Lịch sử Đông Hòa", "Hóa học đại cương"}
    assert titles("hoa")[0] == "Hoa học trò"
    assert titles("hóa")[0] == "Hóa học đại cương"


def test_field_search_phrase_prefix(books):
    assert titles("author:hoai") == ["Dế Mèn phiêu lưu ký"]
    assert titles("title:hoai") == []
    assert titles("subject:tho") == ["Hoa học trò"]
    assert titles('"hoa hoc"') == sorted(["Hoa học trò", "Hóa học đại cương"], key=sort_key) or \
        set(titles('"hoa hoc"')) == {"Hoa học trò", "Hóa học đại cương"}
    assert titles('"hoc hoa"') == []
    assert titles("phieu*") == ["Dế Mèn phiêu lưu ký"]
    assert titles("callno:895.9221", sort="title") == ["Hoa học trò", "The Tale of Kieu"]
    assert titles("nosuchword") == [] and titles("   ") == titles("")


def test_sorts(books):
    every = titles("", sort="title")
    assert every == sorted(every, key=sort_key)
    assert every.index("Dế Mèn phiêu lưu ký") < every.index("Đất rừng phương Nam")
    # copies accessioned the same day: the newest edition first
    assert titles("", sort="newest")[:2] == ["Lịch sử Đông Hòa", "Hóa học đại cương"]


def test_filters_and_facets(books, cat_ctx):
    assert titles("", language="eng") == ["The Tale of Kieu"]
    assert set(titles("", year_from=1950, year_to=2001)) == {
        "Hoa học trò", "Đất rừng phương Nam", "The Tale of Kieu"}
    assert titles("hoa", item_type="reference") == ["Hóa học đại cương"]
    assert set(titles("", in_library="PY-DH02")) == {
        "Hoa học trò", "Dế Mèn phiêu lưu ký", "The Tale of Kieu"}
    out = search.search("hoa", with_facets=True)
    f = out["facets"]
    assert dict(map(tuple, f["library"])) == {"PY-DH01": 2, "PY-DH02": 1}
    assert dict(map(tuple, f["item_type"])) == {"book": 2, "reference": 1}
    assert f["available"] == 3
    assert f["language"] == [["vie", 3]] and f["decade"] == [[2010, 2], [2000, 1]]
    for sort in ("title", "newest"):  # every way of reading hits carries what facets count
        browse = search.search("", sort=sort, with_facets=True)["facets"]
        assert browse["language"] == [["vie", 5], ["eng", 1]], sort
        assert dict(map(tuple, browse["decade"]))[1980] == 1 and browse["available"] == 6
        assert search.search("hoa", sort=sort, with_facets=True)["facets"] == f | {
            "counted": 3}, sort
    # a copy going out changes availability and the available filter
    catalogue.save_item(cat_ctx, {"id": catalogue.get_item(cat_ctx, "DH0000").id,
                                  "status": "lost"})
    assert "Lịch sử Đông Hòa" not in titles("hoa", available=True)
    assert search.search("hoa", with_facets=True)["facets"]["available"] == 2


def test_edits_and_deletes_reach_the_index(books, cat_ctx):
    bib_id = books["Hoa học trò"]
    catalogue.save_bib(cat_ctx, {"id": bib_id, "title": "Mực tím"})
    assert titles("muc tim") == ["Mực tím"] and "Hoa học trò" not in titles("hoa")
    catalogue.save_bib(cat_ctx, {"id": bib_id, "deleted": True})
    assert titles("muc tim") == []


def test_paging_and_bad_input(books):
    page1 = search.search("", per_page=4, sort="title")
    page2 = search.search("", page=2, per_page=4, sort="title")
    assert page1["total"] == 6 and len(page1["results"]) == 4 and len(page2["results"]) == 2
    # FTS syntax in the query is data, not syntax
    for q in ['"', "AND OR NOT", "title:", "(*)", "a:b:c", "NEAR(a b)", "-x", "^a", "'",
              "a & b | !c", "<->", "abc:*"]:
        search.search(q, with_facets=True)
    # past the limits (tests/catalogue/test_search_limits.py): refused, clearly
    for q, code in (("x:*", "prefix_too_short"), ("a" * 3000, "query_too_long")):
        with pytest.raises(Invalid) as refused:
            search.search(q, with_facets=True)
        assert refused.value.code == code


def test_facets_count_the_best_hits_and_paging_goes_past_them(books, monkeypatch):
    every = search.search("", sort="title", per_page=50, with_facets=True)
    assert every["facets"]["counted"] == 6
    assert sum(n for _, n in every["facets"]["language"]) == 6
    monkeypatch.setattr(search, "FACET_HITS", 4)
    capped = search.search("", sort="title", per_page=3, with_facets=True)
    assert capped["total"] == 6 and capped["facets"]["counted"] == 4
    assert sum(n for _, n in capped["facets"]["language"]) == 4
    ordered = [r["title"] for r in every["results"]]
    assert [r["title"] for r in capped["results"]] == ordered[:3]
    # page 2 reaches past the counted hits: read with them, not cut short
    page2 = search.search("", sort="title", per_page=3, page=2, with_facets=True)
    assert [r["title"] for r in page2["results"]] == ordered[3:6]
    assert search.search("hoa", with_facets=True)["facets"]["counted"] == 3


PREFIXED = ("hoa*", "title:hoa*", "ngu* thi*", "hoc hoa*", "author:ngu*", "callno:895*",
            '"hoa hoc*"', "phieu*", "\u04bb\u043e\u0430*")


def test_a_prefix_finds_what_its_words_find(books, cat_ctx, db_backend, monkeypatch):
    """PostgreSQL seeks a prefix as the indexed words it stands for (search_word; GIN
    read every posting of a prefix first), a wider one as a prefix: either way the same
    records in the same order, by relevance, by title and on the OPAC's deep pages. A
    word no record holds any longer finds nothing; a new one is found."""
    from appliance.core.search_query import parse

    def answers():
        return {(q, sort): titles(q, sort=sort) for q in PREFIXED
                for sort in ("relevance", "title", "newest")}

    found = answers()
    assert found["hoa*", "relevance"] and found["callno:895*", "title"]
    assert found["\u04bb\u043e\u0430*", "title"] == found["hoa*", "title"]
    if db_backend == "postgres":
        from appliance.core import db as dbmod
        from appliance.core import search_pg
        from appliance.core.models import Setting

        words = search_pg._expansions(cat_ctx.db, parse("hoa* callno:895*"))
        assert {"hoa", "hoai"} <= set(words["hoa"]) and "hoc" not in words["hoa"]
        assert words["ca|895"] and all(w.startswith("ca|895") for w in words["ca|895"])
        monkeypatch.setattr(search_pg, "MAX_EXPANSION", 0)  # every prefix a prefix
        assert search_pg._expansions(cat_ctx.db, parse("hoa*")) == {}
        assert answers() == found
        monkeypatch.undo()
        cat_ctx.db.execute_sql("DROP TABLE search_word")  # a hub before migration 16
        Setting.update(value=15).where(Setting.key == "schema_version").execute()
        dbmod.migrate(cat_ctx.db)
        assert {"hoa", "hoai"} <= set(search_pg._expansions(cat_ctx.db, parse("hoa*"))["hoa"])
        assert answers() == found
    catalogue.save_bib(cat_ctx, {"id": books["Hoa học trò"], "title": "Mực tím"})
    assert titles("tro*") == [] and titles("muc*") == ["Mực tím"]


def test_an_older_database_gets_its_index_through_the_migration(books, cat_ctx):
    from appliance.core import db as dbmod
    from appliance.core.models import Setting

    search.backend(cat_ctx.db).drop_index(cat_ctx.db)
    Setting.update(value=5).where(Setting.key == "schema_version").execute()
    dbmod.migrate(cat_ctx.db)
    assert titles("dong hoa") == ["Lịch sử Đông Hòa"]
    out = search.search("hoa", with_facets=True)
    assert dict(map(tuple, out["facets"]["library"])) == {"PY-DH01": 2, "PY-DH02": 1}


def test_a_very_common_query_on_postgresql_ranks_the_first_matches_and_estimates(
        books, cat_ctx, db_backend, monkeypatch):
    from appliance.core import search_pg

    for n in range(30):  # enough "hoa" records for a cap of 4 to bite, with copies
        bib = catalogue.save_bib(cat_ctx, {"title": f"Hoa dại {n}", "language": "vie"})
        catalogue.save_item(cat_ctx, {"bib": bib.id, "barcode": f"HD{n:04d}"})
    every = search.search("hoa", per_page=50)
    assert every["total"] == 33 and every["total_exact"]
    monkeypatch.setattr(search_pg, "RANK_CAP", 6)
    monkeypatch.setattr(search_pg, "SAMPLE_ROWS", 10**6)  # the sample is the whole table
    capped = search.search("hoa", per_page=3)
    if db_backend == "sqlite":  # FTS5 counts every match without ranking them: exact
        assert capped["total_exact"] and capped["total"] == 33
        return
    assert not capped["total_exact"] and capped["total"] == 33
    assert len(capped["results"]) == 3
    # the pages within the cap come from one ranking: none repeats
    seen = [r["bib_id"] for p in (1, 2) for r in search.search("hoa", page=p, per_page=3)
            ["results"]]
    assert len(set(seen)) == 6
    # a page past them ranks every match: full up to the last one
    assert len(search.search("hoa", page=3, per_page=3)["results"]) == 3
    assert len(search.search("hoa", page=11, per_page=3)["results"]) == 3
    assert search.search("hoa", page=12, per_page=3)["results"] == []
    assert not search.search("", sort="title")["total_exact"]
    assert search.search("hoa", in_library="PY-DH02")["total_exact"]
    monkeypatch.setattr(search, "FACET_HITS", 5)
    page = search.search("hoa", with_facets=True)
    assert page["facets"]["counted"] == 5 and not page["total_exact"]


def test_opac_says_about_when_the_total_is_an_estimate(client, db_backend, monkeypatch):
    from appliance.core import search_pg

    monkeypatch.setattr(search_pg, "RANK_CAP", 2)
    html = client.get("/opac/?q=").get_data(as_text=True)
    if db_backend == "sqlite":
        assert "5 biểu ghi" in html and "Khoảng" not in html
    else:
        assert "Khoảng 5 biểu ghi" in html


def test_a_common_query_ranks_its_best_hits_first_whatever_their_age(
        books, cat_ctx, db_backend, monkeypatch):
    """Past the cap a page is ranked among some of the matches (SQLite: the newest ones,
    widened to hold the records with every word in the title and those matching the
    query's own diacritics); the records that rank first among all matches still do."""
    from appliance.core import search_pg, search_sqlite

    for n in range(12):  # newer records with the word only in their subjects
        catalogue.save_bib(cat_ctx, {"title": f"Tuyển tập {n}", "subjects": ["Hoa"],
                                     "language": "vie"})
    every = {q: titles(q) for q in ("hóa", "hoa")}
    assert every["hóa"][0] == "Hóa học đại cương" and len(every["hóa"]) == 15
    monkeypatch.setattr(search_sqlite, "RANK_CAP", 4)
    monkeypatch.setattr(search_pg, "RANK_CAP", 4)
    monkeypatch.setattr(search_pg, "SAMPLE_ROWS", 10**6)  # the sample is the whole table
    for q, ranked in every.items():
        capped = search.search(q, per_page=3)
        assert [r["title"] for r in capped["results"]] == ranked[:3], q
        assert capped["total"] == len(ranked), q
        assert capped["total_exact"] == (db_backend == "sqlite"), q
    # the pages within the cap come from one ranking: none repeats
    seen = [r["bib_id"] for p in (1, 2) for r in search.search("hoa", page=p, per_page=2)
            ["results"]]
    assert len(set(seen)) == 4
    # past the cap, a page ranks every match: the last page holds the last hits
    assert [r["title"] for r in search.search("hoa", page=5, per_page=3)["results"]] == \
        every["hoa"][12:15]


def test_a_common_query_on_postgresql_reads_its_newest_matches(
        books, cat_ctx, db_backend, monkeypatch):
    """When a sample says a query matches a large share of the catalogue, PostgreSQL
    reads its newest matches by the primary key (a bitmap of every match costs more);
    the planner's settings it changes for that are put back, inside a caller's
    transaction too."""
    from appliance.core import search_pg

    made = [catalogue.save_bib(cat_ctx, {"title": f"Hoa dại {n}", "language": "vie"}).id
            for n in range(30)]
    if db_backend == "sqlite":
        return  # SQLite ranks its newest matches whatever their share (the test above)
    cat_ctx.db.execute_sql("ANALYZE search_doc")  # what autovacuum does on a live hub
    monkeypatch.setattr(search_pg, "RANK_CAP", 4)
    monkeypatch.setattr(search_pg, "SAMPLE_ROWS", 10**6)
    with cat_ctx.db.atomic():
        assert search_pg._expected(cat_ctx.db, *search_pg._hits_sql(search.parse("hoa"), {}))[1]
        capped = search.search("hoa", per_page=3)
        setting = cat_ctx.db.execute_sql("SELECT current_setting('enable_bitmapscan'), "
                                         "current_setting('enable_seqscan')").fetchone()
    assert setting == ("on", "on")
    assert capped["total"] == 33 and not capped["total_exact"]
    assert {r["bib_id"] for r in capped["results"]} <= set(made[-5:])
    # a rare query still goes through the index, and counts exactly
    assert not search_pg._expected(cat_ctx.db,
                                   *search_pg._hits_sql(search.parse("kieu"), {}))[1]
    assert search.search("kieu")["total"] == 1
