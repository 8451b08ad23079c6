"""The reports speak Vietnamese: every msgid of their sources (extracted with their own
map, appliance/translations/babel-reports.cfg, `tr(...)` included) has a translation in
reports.po that keeps its placeholders, and none of them is a msgid another area
translates otherwise (the catalogues are merged into one)."""

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.util import pathmatch

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "appliance" / "translations"
MAPPING = TRANSLATIONS / "babel-reports.cfg"
PO = TRANSLATIONS / "vi" / "LC_MESSAGES" / "reports.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "_l": None, "tr": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extracted():
    with open(MAPPING, encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, filename=str(MAPPING))
    found = {}
    for path in sorted((ROOT / "appliance").rglob("*")):
        relative = path.relative_to(ROOT).as_posix()
        for pattern, method in method_map:
            if path.is_file() and pathmatch(pattern, relative):
                for lineno, message, _c, _x in extract_from_file(
                        method, str(path), keywords=KEYWORDS,
                        options=options_map.get(pattern, {})):
                    msgid = message[0] if isinstance(message, tuple) else message
                    if msgid:
                        found.setdefault(msgid, f"{relative}:{lineno}")
                break
    return found


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
