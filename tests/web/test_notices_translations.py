"""The notices speak Vietnamese: every msgid of their sources (extracted with their own
map, appliance/translations/babel-notices.cfg) has a translation in notices.po that
keeps its placeholders, and none is a msgid another area translates otherwise."""

from tests.reports.test_translations import KEYWORDS, TRANSLATIONS
from tests.web.test_translations import assert_area_translated, assert_no_clash

MAPPING = TRANSLATIONS / "babel-notices.cfg"
PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "notices.po"


def test_every_msgid_of_the_notices_is_translated_and_keeps_its_placeholders():
    assert_area_translated(MAPPING, PO, KEYWORDS, 80)


def test_no_msgid_of_the_notices_is_translated_otherwise_elsewhere():
    assert_no_clash(PO)
