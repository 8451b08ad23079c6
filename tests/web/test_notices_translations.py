"""The notices speak Vietnamese: every msgid of their sources (extracted with their own
map, appliance/translations/babel-notices.cfg) has a translation in notices.po that
keeps its placeholders, and none is a msgid another area translates otherwise."""

import re
from pathlib import Path

from babel.messages.pofile import read_po

from tests.reports.test_translations import KEYWORDS, TRANSLATIONS
from tests.web.test_translations import extracted_msgids

MAPPING = TRANSLATIONS / "babel-notices.cfg"
PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "notices.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _read(path: Path):
    with open(path, "rb") as f:
        return {m.id: m.string for m in read_po(f, locale="vi") if m.id}


def test_every_msgid_of_the_notices_is_translated_and_keeps_its_placeholders():
    mine = _read(PO)
    found = extracted_msgids(MAPPING, KEYWORDS)
    assert len(found) > 80, "the extraction map no longer finds the notices' sources"
    missing = [f"{where}: {msgid!r}" for msgid, where in found.items() if not mine.get(msgid)]
    assert not missing, "not translated in notices.po:\n" + "\n".join(missing)
    for msgid, text in mine.items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(text)), msgid


def test_no_msgid_of_the_notices_is_translated_otherwise_elsewhere():
    mine = _read(PO)
    clashes = [f"{other.name}: {msgid!r}" for other in sorted(PO.parent.glob("*.po"))
               if other != PO for msgid, text in _read(other).items()
               if msgid in mine and text != mine[msgid]]
    assert not clashes, "\n".join(clashes)
