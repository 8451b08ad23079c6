"""Card numbers have letters (TV0001): no card field forces a digit keypad on a phone,
nor lets the phone capitalise or spell-correct what is typed."""

from html.parser import HTMLParser

from tests.conftest import staff_login
from tests.kiosk.conftest import login as kiosk_login


class CardInputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") == "card" and attrs.get("type") != "hidden":
            self.found.append(attrs)


def card_inputs(html):
    parser = CardInputs()
    parser.feed(html)
    return parser.found


def check(client, path):
    inputs = card_inputs(client.get(path).get_data(as_text=True))
    assert inputs, f"{path} has no card field"
    for attrs in inputs:
        assert attrs.get("inputmode") in (None, "text"), f"{path}: {attrs}"
        assert attrs.get("spellcheck") == "false", f"{path}: {attrs}"
        assert attrs.get("autocapitalize") == "characters", f"{path}: {attrs}"


def test_card_fields_of_the_opac_and_the_desk(client, ctx):
    check(client, "/opac/login")
    staff_login(client)
    for path in ("/desk/", f"/desk/bibs/{ctx.bibs[0].id}", "/desk/patrons/new"):
        check(client, path)


def test_card_field_of_the_kiosk(app):
    check(kiosk_login(app.test_client()), "/kiosk/")


def test_a_card_with_spaces_around_it_is_found(client, ctx):
    """A scanner or a hurried thumb adds spaces: the desk, the kiosk and the OPAC trim them."""
    token = staff_login(client)
    r = client.post("/desk/patron", data={"csrf_token": token, "card": "  P0001 "})
    assert r.headers["Location"].endswith("/desk/patrons/P0001")
    r = client.post("/desk/checkout", data={"csrf_token": token, "card": " P0001 ",
                                            "barcode": " 1001 "}, follow_redirects=True)
    assert "Nguyễn Văn An" in r.get_data(as_text=True) and 'class="flash success"' in \
        r.get_data(as_text=True)


def test_the_kiosk_and_the_opac_trim_the_card(app):
    from tests.kiosk.conftest import csrf
    kiosk = kiosk_login(app.test_client())
    page = kiosk.post("/kiosk/identify", data={"csrf_token": csrf(kiosk), "card": " P0002 "},
                      follow_redirects=True).get_data(as_text=True)
    assert "Trần Thị Bình" in page and 'data-mode="session"' in page
    reader = app.test_client()
    from tests.conftest import csrf_token
    r = reader.post("/opac/login", data={"csrf_token": csrf_token(reader, "/opac/login"),
                                         "card": " P0002 ", "pin": "1234"})
    assert r.status_code == 302
