"""A query finds what its plain spelling finds, however the reader's keyboard wrote it:
decomposed marks, letters of other alphabets that look Latin, an ISBN with hyphens or
spaces or in its other form. On SQLite and on PostgreSQL (`cat_ctx`)."""

import unicodedata

import pytest

from appliance.core import catalogue, isbn, search

BOOKS = [
    ("Truyện Kiều", ["Nguyễn Du"], "9786040000019"),
    ("Lịch sử Đông Hòa", ["Nguyễn Thị Thuý"], "0306406152"),
    ("Hoa học trò", ["Trần Văn An"], None),
    ("Сорок рассказов", ["Чехов"], None),  # a Russian book, as town libraries hold
    ("Co so du lieu", ["Pham Van Co"], None),
]


@pytest.fixture
def books(cat_ctx):
    for title, authors, number in BOOKS:
        catalogue.save_bib(cat_ctx, {"title": title, "authors": authors, "isbn": number})


def titles(q):
    return sorted(r["title"] for r in search.search(q, per_page=50)["results"])


def test_decomposed_marks_find_what_composed_ones_find(books):
    for plain in ("Truyện Kiều", "Đông Hòa", "lịch sử", 'title:"truyện kiều"', "truyệ*"):
        nfd = unicodedata.normalize("NFD", plain)
        assert nfd != plain
        assert titles(nfd) == titles(plain) != [], plain
    # full-width letters (an East Asian keyboard) are the plain ones
    assert titles("ｋｉｅｕ") == titles("kieu") == ["Truyện Kiều"]


def test_look_alike_letters_of_other_alphabets_are_read_as_latin(books):
    # Cyrillic а о е с р and Greek ο inside Latin words: a typing accident
    for q, plain in (("Hоa học trò", "hoa hoc tro"), ("trаn vаn", "tran van"),
                     ("Nguyеn Du", "nguyen du"), ("сo so", "co so"), ("Phаm", "pham"),
                     ("ρham", "pham"), ("Ηοa", "hoa"), ("truyện kiều", "truyen kieu")):
        assert titles(q) == titles(plain) != [], q
    # a word wholly in look-alikes is sought both ways: "со" (Cyrillic) finds "Co"
    assert titles("\u0441\u043e so") == ["Co so du lieu"]
    # and a real Russian word is still Russian
    assert titles("Чехов") == ["Сорок рассказов"]
    assert titles("сорок") == ["Сорок рассказов"]


def test_an_isbn_is_found_however_it_is_written(books):
    kieu, dong_hoa = ["Truyện Kiều"], ["Lịch sử Đông Hòa"]
    for q in ("9786040000019", "978-604-0-00001-9", "978 604 0 00001 9", "ISBN 978-604-0-00001-9",
              "isbn:978-604-0-00001-9", isbn.other_form("9786040000019"), "604-0-00001-5"):
        assert titles(q) == kieu, q
    # the record holds the ISBN-10; the reader has the ISBN-13 (and the reverse above)
    for q in ("0306406152", "0-306-40615-2", "978-0-306-40615-7", "9780306406157",
              "ISBN-13: 978 0 306 40615 7"):
        assert titles(q) == dong_hoa, q
    # numbers that are no ISBN stay words
    assert titles("2019 du") == [] and titles("kieu 978") == []
