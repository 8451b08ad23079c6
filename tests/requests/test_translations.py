"""The remote requests speak Vietnamese: every msgid of their sources (extracted with
their own map, appliance/translations/babel-requests.cfg) has a translation in
requests.po that keeps its placeholders, and none is translated otherwise elsewhere."""

from tests.reports.test_translations import KEYWORDS, TRANSLATIONS
from tests.web.test_translations import assert_area_translated, assert_no_clash

MAPPING = TRANSLATIONS / "babel-requests.cfg"
PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "requests.po"


def test_every_msgid_of_the_requests_is_translated_and_keeps_its_placeholders():
    assert_area_translated(MAPPING, PO, KEYWORDS, 100)


def test_no_msgid_of_the_requests_is_translated_otherwise_elsewhere():
    assert_no_clash(PO)
