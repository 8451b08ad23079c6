"""The reports speak Vietnamese: every msgid of their sources (extracted with their own
map, appliance/translations/babel-reports.cfg, `tr(...)` included) has a translation in
reports.po that keeps its placeholders, and none of them is a msgid another area
translates otherwise (the catalogues are merged into one)."""

from tests.web.test_translations import KEYWORDS as CORE_KEYWORDS
from tests.web.test_translations import (
    TRANSLATIONS,
    assert_area_translated,
    assert_no_clash,
)

MAPPING = TRANSLATIONS / "babel-reports.cfg"
PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "reports.po"
KEYWORDS = {**CORE_KEYWORDS, "tr": None}  # the areas' own texts, said through `tr(...)`


def test_every_msgid_of_the_reports_is_translated_and_keeps_its_placeholders():
    assert_area_translated(MAPPING, PO, KEYWORDS, 100)


def test_no_msgid_of_the_reports_is_translated_otherwise_elsewhere():
    assert_no_clash(PO)
