"""Staff training speaks Vietnamese: every msgid of its sources (extracted with its own
map, appliance/translations/babel-training.cfg, `tr(...)` included) has a translation
in training.po that keeps its placeholders, and none is a msgid another area
translates otherwise (the catalogues are merged into one)."""

import re

from babel.messages.pofile import read_po

from tests.reports.test_translations import KEYWORDS, TRANSLATIONS
from tests.web.test_translations import extracted_msgids

MAPPING = TRANSLATIONS / "babel-training.cfg"
PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "training.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def test_every_msgid_of_the_training_is_translated_and_keeps_its_placeholders():
    with open(PO, "rb") as f:
        catalog = read_po(f, locale="vi")
    found = extracted_msgids(MAPPING, KEYWORDS)
    assert len(found) > 60, "the extraction map no longer finds the training's sources"
    missing = [f"{where}: {msgid!r}" for msgid, where in found.items()
               if catalog.get(msgid) is None or not catalog.get(msgid).string]
    assert not missing, "not translated in training.po:\n" + "\n".join(missing)
    for message in catalog:
        if message.id:
            assert sorted(PLACEHOLDER.findall(message.id)) == sorted(
                PLACEHOLDER.findall(message.string)), message.id


def test_no_msgid_of_the_training_is_translated_otherwise_elsewhere():
    with open(PO, "rb") as f:
        mine = {m.id: m.string for m in read_po(f, locale="vi") if m.id}
    clashes = []
    for other in sorted(PO.parent.glob("*.po")):
        if other != PO:
            with open(other, "rb") as f:
                clashes += [f"{other.name}: {m.id!r}" for m in read_po(f, locale="vi")
                            if m.id in mine and m.string != mine[m.id]]
    assert not clashes, "\n".join(clashes)
