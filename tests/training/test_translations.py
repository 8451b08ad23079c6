"""Staff training speaks Vietnamese: every msgid of its sources (extracted with its own
map, appliance/translations/babel-training.cfg, `tr(...)` included) has a translation
in training.po that keeps its placeholders, and none is a msgid another area
translates otherwise (the catalogues are merged into one)."""

from tests.reports.test_translations import KEYWORDS, TRANSLATIONS
from tests.web.test_translations import assert_area_translated, assert_no_clash

MAPPING = TRANSLATIONS / "babel-training.cfg"
PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "training.po"


def test_every_msgid_of_the_training_is_translated_and_keeps_its_placeholders():
    assert_area_translated(MAPPING, PO, KEYWORDS, 60)


def test_no_msgid_of_the_training_is_translated_otherwise_elsewhere():
    assert_no_clash(PO)
