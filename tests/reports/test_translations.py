"""The reports speak Vietnamese: every msgid of their sources (extracted with their own
map, appliance/translations/babel-reports.cfg, `tr(...)` included) has a translation in
reports.po that keeps its placeholders, and none of them is a msgid another area
translates otherwise (the catalogues are merged into one)."""

import re
from pathlib import Path

from babel.messages.pofile import read_po

from tests.web.test_translations import KEYWORDS as CORE_KEYWORDS
from tests.web.test_translations import extracted_msgids

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "appliance" / "translations"
MAPPING = TRANSLATIONS / "babel-reports.cfg"
PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "reports.po"
KEYWORDS = {**CORE_KEYWORDS, "tr": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extracted():
    return extracted_msgids(MAPPING, KEYWORDS)


def test_every_msgid_of_the_reports_is_translated_and_keeps_its_placeholders():
    with open(PO, "rb") as f:
        catalog = read_po(f, locale="vi")
    found = extracted()
    assert len(found) > 100
    missing = [f"{where}: {msgid!r}" for msgid, where in found.items()
               if catalog.get(msgid) is None or not catalog.get(msgid).string]
    assert not missing, "not translated in reports.po:\n" + "\n".join(missing)
    for message in catalog:
        if message.id:
            assert sorted(PLACEHOLDER.findall(message.id)) == sorted(
                PLACEHOLDER.findall(message.string)), message.id


def test_no_msgid_of_the_reports_is_translated_otherwise_elsewhere():
    with open(PO, "rb") as f:
        mine = {m.id: m.string for m in read_po(f, locale="vi") if m.id}
    clashes = []
    for other in sorted(PO.parent.glob("*.po")):
        if other == PO:
            continue
        with open(other, "rb") as f:
            for m in read_po(f, locale="vi"):
                if m.id in mine and m.string != mine[m.id]:
                    clashes.append(f"{other.name}: {m.id!r}: {m.string!r} / {mine[m.id]!r}")
    assert not clashes, "\n".join(clashes)
