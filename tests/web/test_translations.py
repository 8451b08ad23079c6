"""The Vietnamese translation of the core and the desk is complete and keeps its placeholders.

The msgids are extracted again at test time with the project's own extraction map
(appliance/translations/babel-core.cfg), so a new string in those sources that nobody has
translated in core.po fails here instead of showing up in English at the desk."""

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.util import pathmatch

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "appliance" / "translations"
MAPPING = TRANSLATIONS / "babel-core.cfg"
CORE_PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "core.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "_l": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extracted_msgids(mapping=MAPPING, keywords=KEYWORDS):
    """{msgid: first place it occurs}, found exactly as `pybabel extract -F <mapping>`
    would: the first pattern of the map that matches a file decides how it is read."""
    with open(mapping, encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, filename=str(mapping))
    found = {}
    for path in sorted((ROOT / "appliance").rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(ROOT).as_posix()
        for pattern, method in method_map:
            if pathmatch(pattern, relative):
                if method != "ignore":
                    for lineno, message, _comments, _context in extract_from_file(
                            method, str(path), keywords=keywords,
                            options=options_map.get(pattern, {})):
                        # a plural (ngettext) is one entry, found by its singular
                        msgid = message[0] if isinstance(message, tuple) else message
                        if msgid:
                            found.setdefault(msgid, f"{relative}:{lineno}")
                break
    return found


def area_catalogue(po):
    """{msgid: translation} of one area's catalogue."""
    with open(po, "rb") as f:
        return {m.id: m.string for m in read_po(f, locale="vi") if m.id}


def assert_area_translated(mapping, po, keywords, at_least):
    """Every msgid an area's sources hold (extracted with the area's own map) has a
    translation in the area's own catalogue, and each translation there keeps the
    placeholders of its msgid."""
    mine = area_catalogue(po)
    found = extracted_msgids(mapping, keywords)
    assert len(found) > at_least, f"{mapping.name} no longer finds the area's sources"
    missing = [f"{where}: {msgid!r}" for msgid, where in found.items() if not mine.get(msgid)]
    assert not missing, f"not translated in {po.name}:\n" + "\n".join(missing)
    for msgid, text in mine.items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(text)), msgid


def assert_no_clash(po):
    """No msgid of an area's catalogue is translated otherwise in another (the catalogues
    are merged into one)."""
    mine = area_catalogue(po)
    clashes = [f"{other.name}: {msgid!r}: {text!r} / {mine[msgid]!r}"
               for other in sorted(po.parent.glob("*.po")) if other != po
               for msgid, text in area_catalogue(other).items()
               if msgid in mine and text != mine[msgid]]
    assert not clashes, "\n".join(clashes)


@pytest.fixture(scope="module")
def msgids():
    found = extracted_msgids()
    assert len(found) > 100, "the extraction map no longer finds the core and the desk"
    return found


@pytest.fixture(scope="module")
def catalog():
    with open(CORE_PO, "rb") as f:
        return read_po(f, locale="vi")


def test_core_po_is_a_vietnamese_utf8_catalogue(catalog):
    assert str(catalog.locale) == "vi"
    assert catalog.charset.lower() == "utf-8"
    assert "charset=UTF-8" in CORE_PO.read_text(encoding="utf-8")


def test_every_msgid_of_the_core_and_the_desk_is_translated(msgids, catalog):
    untranslated = []
    for msgid, where in sorted(msgids.items(), key=lambda kv: kv[1]):
        message = catalog.get(msgid)
        forms = message.string if message is not None and message.pluralizable else \
            (message.string if message is not None else "",)
        if message is None or not all(form and form.strip() for form in forms) \
                or message.fuzzy:
            untranslated.append(f"{where}: {msgid!r}")
    assert not untranslated, "not translated in core.po:\n" + "\n".join(untranslated)


def test_translations_keep_their_placeholders(catalog):
    wrong = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        # a plural's every form keeps the placeholders of its plural msgid (the form
        # Vietnamese, with one form, always uses)
        ids = message.id if message.pluralizable else (message.id,)
        forms = message.string if message.pluralizable else (message.string,)
        msgid = ids[-1]
        for msgstr in forms:
            if set(PLACEHOLDER.findall(msgid)) != set(PLACEHOLDER.findall(msgstr)):
                wrong.append(f"{msgid!r} -> {msgstr!r}")
            # Jinja formats every _() with %, so a stray % in a translation breaks the page
            if PLACEHOLDER.sub("", msgstr).count("%") != PLACEHOLDER.sub("", msgid).count("%"):
                wrong.append(f"stray %: {msgid!r} -> {msgstr!r}")
    assert not wrong, "\n".join(wrong)


def test_login_page_is_vietnamese_by_default(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="vi">' in page
    assert "Đăng nhập" in page and "Tên đăng nhập" in page and "Mật khẩu" in page
    assert ">Log in<" not in page


def test_login_page_in_english_one_click_away(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'href="?lang=en"' in page
    page = client.get("/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Log in" in page and "User name" in page and "Password" in page
    assert "Đăng nhập" not in page


def test_no_message_is_translated_two_ways_across_areas():
    """All areas' .po files merge into one catalogue, where the last one read would win."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    folder = Path(__file__).resolve().parents[2] / "appliance/translations/vi/LC_MESSAGES"
    seen = {}
    for po in sorted(folder.glob("*.po")):
        with open(po, "rb") as f:
            for message in read_po(f):
                if message.id and message.string:
                    seen.setdefault(message.id, set()).add(message.string)
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}


def test_no_message_is_listed_twice_in_one_file():
    """A .po file listing a msgid twice keeps only one translation, silently."""
    import re
    from collections import Counter
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "appliance/translations/vi/LC_MESSAGES"
    for po in sorted(folder.glob("*.po")):
        ids = re.findall(r'^msgid ((?:".*"\n)+)', po.read_text(encoding="utf-8") + "\n", re.M)
        twice = [i for i, n in Counter(ids).items() if n > 1 and i.strip() != '""']
        assert twice == [], f"{po.name}: {twice}"


def test_counts_are_plural_in_english_and_vietnamese(client, ctx):
    """ngettext: "1 record", "2 records" in English; Vietnamese has one form."""
    import re as regex

    from appliance.core import catalogue

    def count(q, lang):
        page = client.get(f"/opac/?q={q}&lang={lang}").get_data(as_text=True)
        return regex.search(r'<p id="count">(.*?)</p>', page).group(1)

    assert count("truyen+kieu", "en").endswith("1 record")
    catalogue.save_bib(ctx, {"title": "Truyện Kiều (bản chú giải)", "authors": ["Nguyễn Du"],
                             "language": "vie", "year": 2010})
    assert count("truyen+kieu", "en").endswith("2 records")
    assert count("truyen+kieu", "vi").endswith("2 biểu ghi")


def test_desk_counts_are_plural(client, ctx):
    from tests.conftest import staff_login
    token = staff_login(client)
    client.get("/desk/?lang=en")
    r = client.post("/desk/holds/expire", data={"csrf_token": token}, follow_redirects=True)
    assert "0 expired pickups moved on." in r.get_data(as_text=True)
