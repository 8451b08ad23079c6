"""The digital library's Vietnamese is complete and keeps its placeholders."""

from babel.messages.pofile import read_po

from tests.web.test_translations import PLACEHOLDER, TRANSLATIONS, extracted_msgids


def test_every_msgid_of_the_digital_library_is_translated():
    found = extracted_msgids(TRANSLATIONS / "babel-digital.cfg")
    assert len(found) > 20
    with open(TRANSLATIONS / "vi" / "LC_MESSAGES" / "digital.po", "rb") as f:
        catalog = read_po(f, locale="vi")
    missing = [f"{where}: {msgid!r}" for msgid, where in found.items()
               if catalog.get(msgid) is None or not catalog.get(msgid).string]
    assert not missing, "not translated in digital.po:\n" + "\n".join(missing)
    for msgid in found:
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(
            catalog.get(msgid).string)), msgid
