"""The desk's lists of patrons and records as a librarian types into them: without
diacritics, in any case, and read in Vietnamese order; the ISBN field's keypad."""

import re
from html.parser import HTMLParser

from appliance.core import catalogue, patrons
from tests.conftest import staff_login


def _cells(html, table_col=1):
    rows = re.findall(r"<tr><td>(.*?)</tr>", html, re.S)
    return [re.sub(r"<[^>]+>", "", re.split(r"</td><td>", r)[table_col]) for r in rows]


def test_patrons_are_found_without_marks_and_listed_by_given_name(client, ctx):
    patrons.save(ctx, {"card": "K0001", "name": "Đặng Văn Nguyên", "category": "adult"})
    patrons.save(ctx, {"card": "K0002", "name": "Lê Thị Đào", "category": "adult"})
    staff_login(client)
    html = client.get("/desk/patrons?q=nguyen").get_data(as_text=True)
    assert _cells(html) == ["Nguyễn Văn An", "Đặng Văn Nguyên"]
    html = client.get("/desk/patrons?q=p0002").get_data(as_text=True)
    assert _cells(html) == ["Trần Thị Bình"]
    html = client.get("/desk/patrons").get_data(as_text=True)
    assert _cells(html) == ["Nguyễn Văn An", "Trần Thị Bình", "Lê Thị Đào", "Phạm Gia Huy",
                            "Hoàng Thị Lan", "Đặng Văn Nguyên"]


def test_records_are_found_without_marks_and_sorted_in_vietnamese_order(client, ctx):
    for title in ("Vợ nhặt", "Đất rừng phương Nam"):
        catalogue.save_bib(ctx, {"title": title, "authors": ["Khuyết danh"]})
    staff_login(client)
    titles = _cells(client.get("/desk/bibs").get_data(as_text=True), 0)
    assert titles == ["Dế Mèn phiêu lưu ký", "Đất rừng phương Nam", "Lịch sử Phú Yên",
                      "Số đỏ", "Truyện Kiều", "Từ điển tiếng Việt", "Vợ nhặt"]
    assert _cells(client.get("/desk/bibs?q=dat%20rung").get_data(as_text=True), 0) == [
        "Đất rừng phương Nam"]
    assert _cells(client.get("/desk/bibs?q=TRUYEN%20KIE").get_data(as_text=True), 0) == [
        "Truyện Kiều"]
    assert _cells(client.get("/desk/bibs?q=9786040000026").get_data(as_text=True), 0) == [
        "Số đỏ"]


class Inputs(HTMLParser):
    def __init__(self, name):
        super().__init__()
        self.name, self.found = name, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") == self.name:
            self.found.append(attrs)


def test_the_isbn_fields_take_the_x_check_digit(client, ctx):
    """A digit keypad has no X, and an ISBN-10 may end in one: the field takes text,
    and its pattern accepts an ISBN as printed, hyphens or spaces and X included."""
    staff_login(client)
    for path in ("/desk/catalogue/", "/desk/catalogue/new"):
        parser = Inputs("isbn")
        parser.feed(client.get(path).get_data(as_text=True))
        assert parser.found, path
        for attrs in parser.found:
            assert attrs.get("inputmode") == "text", (path, attrs)
            assert attrs.get("autocapitalize") == "characters", (path, attrs)
            pattern = re.compile(attrs["pattern"])
            for isbn in ("080442957X", "0-8044-2957-x", "978-604-0000-01-9", "9786040000019"):
                assert pattern.fullmatch(isbn), (path, isbn)
            assert not pattern.fullmatch("truyen kieu")
