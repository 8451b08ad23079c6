"""The remote requests speak Vietnamese: every msgid of their sources (extracted with
their own map, appliance/translations/babel-requests.cfg) has a translation in
requests.po that keeps its placeholders, and none is translated otherwise elsewhere."""

import re

from babel.messages.pofile import read_po

from tests.reports.test_translations import KEYWORDS, TRANSLATIONS
from tests.web.test_translations import extracted_msgids

MAPPING = TRANSLATIONS / "babel-requests.cfg"
PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "requests.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _mine():
    with open(PO, "rb") as f:
        return read_po(f, locale="vi")


def test_every_msgid_of_the_requests_is_translated_and_keeps_its_placeholders():
    catalog = _mine()
    found = extracted_msgids(MAPPING, KEYWORDS)
    assert len(found) > 100, "the extraction map no longer finds the requests' sources"
    missing = [f"{where}: {msgid!r}" for msgid, where in found.items()
               if catalog.get(msgid) is None or not catalog.get(msgid).string]
    assert not missing, "not translated in requests.po:\n" + "\n".join(missing)
    for message in catalog:
        if message.id:
            assert sorted(PLACEHOLDER.findall(message.id)) == sorted(
                PLACEHOLDER.findall(message.string)), message.id


def test_no_msgid_of_the_requests_is_translated_otherwise_elsewhere():
    mine = {m.id: m.string for m in _mine() if m.id}
    clashes = []
    for other in sorted(PO.parent.glob("*.po")):
        if other != PO:
            with open(other, "rb") as f:
                clashes += [f"{other.name}: {m.id!r}" for m in read_po(f, locale="vi")
                            if m.id in mine and m.string != mine[m.id]]
    assert not clashes, "\n".join(clashes)
