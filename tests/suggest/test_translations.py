"""The suggestions speak Vietnamese: every msgid of their sources (extracted with their
own map, appliance/translations/babel-suggest.cfg) has a translation in one of the
catalogues (they are merged into one), keeping its placeholders."""

import re

from babel.messages.pofile import read_po

from tests.reports.test_translations import KEYWORDS, TRANSLATIONS
from tests.web.test_translations import extracted_msgids

MAPPING = TRANSLATIONS / "babel-suggest.cfg"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def test_every_msgid_of_the_suggestions_is_translated_and_keeps_its_placeholders():
    merged = {}
    for po in sorted((TRANSLATIONS / "vi" / "LC_MESSAGES").glob("*.po")):
        with open(po, "rb") as f:
            for m in read_po(f, locale="vi"):
                if m.id and m.string:
                    merged[m.id if isinstance(m.id, str) else m.id[0]] = m.string
    found = extracted_msgids(MAPPING, KEYWORDS)
    assert "Readers also borrowed" in found, "the extraction map no longer finds the sources"
    missing = [f"{where}: {msgid!r}" for msgid, where in found.items() if msgid not in merged]
    assert not missing, "not translated:\n" + "\n".join(missing)
    for msgid in found:
        string = merged[msgid]
        if isinstance(string, str):
            assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(string))
