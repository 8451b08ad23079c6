"""What `sync now` and the desk say when sync fails is in Vietnamese, placeholders kept."""

import re
from pathlib import Path

from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("sync/agent.py", "appliance/cli/sync.py", "sync/status.py")
KEYWORDS = {"N_": None, "say": None, "failed": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def test_every_sync_failure_message_is_translated():
    with open(ROOT / "appliance/translations/vi/LC_MESSAGES/sync.po", "rb") as f:
        catalog = read_po(f, locale="vi")
    found = {}
    for source in SOURCES:
        for lineno, msgid, _c, _ctx in extract_from_file("python", str(ROOT / source),
                                                          keywords=KEYWORDS):
            found.setdefault(msgid, f"{source}:{lineno}")
    assert len(found) >= 12, found
    for msgid, where in found.items():
        message = catalog.get(msgid)
        assert message is not None and message.string, f"{where}: {msgid!r} is not translated"
        assert sorted(PLACEHOLDER.findall(message.string)) == sorted(PLACEHOLDER.findall(msgid))
