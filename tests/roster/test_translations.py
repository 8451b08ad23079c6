"""Pupils in bulk speak Vietnamese: every msgid of their sources (extracted with their
own map, appliance/translations/babel-patrons.cfg) has a Vietnamese translation in the
merged catalogue (patrons.po, or the area that translated it first, in the same words),
keeping its placeholders."""

import re
from pathlib import Path

from babel.messages.pofile import read_po

from appliance import l10n
from tests.web.test_translations import KEYWORDS as CORE_KEYWORDS
from tests.web.test_translations import extracted_msgids

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "appliance" / "translations" / "babel-patrons.cfg"
PO = ROOT / "appliance" / "translations" / "vi" / "LC_MESSAGES" / "patrons.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def test_every_msgid_is_translated_and_keeps_its_placeholders():
    found = extracted_msgids(MAPPING, {**CORE_KEYWORDS, "tr": None})
    assert len(found) > 80
    words = dict(l10n.messages("vi"))
    with open(PO, "rb") as f:  # plurals: by their singular, every form said
        words.update({m.id[0]: m.string[0] for m in read_po(f, locale="vi")
                      if isinstance(m.id, tuple) and all(m.string)})
    missing = [f"{where}: {msgid!r}" for msgid, where in found.items() if msgid not in words]
    assert not missing, "not translated in patrons.po:\n" + "\n".join(missing)
    for msgid in found:
        said = words[msgid]
        said = said[0] if isinstance(said, tuple) else said
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(said)), msgid


def test_patrons_po_translates_nothing_another_area_translates():
    with open(PO, "rb") as f:
        mine = {m.id for m in read_po(f, locale="vi") if m.id}
    for other in sorted(PO.parent.glob("*.po")):
        if other != PO:
            with open(other, "rb") as f:
                assert not mine & {m.id for m in read_po(f, locale="vi") if m.id}, other.name
