"""Where the compiled message catalogues are, for the web pages and SIP2 alike.

Each area keeps its own .po file under translations/<lang>/LC_MESSAGES, so nobody
edits a shared file to add a message; they are merged into one messages.mo per
language. A wheel carries only those messages.mo, compiled at build time by
setup.py (which loads this file on its own: it needs Babel, never Flask). A
source checkout has only the .po files and compiles them once per process.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"


def compile_into(source: Path, out: Path) -> list[Path]:
    """Merge every .po of each language under `source` into `out`/<lang>/LC_MESSAGES."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for lang_dir in sorted(d for d in Path(source).iterdir() if d.is_dir()):
        merged = Catalog(locale=lang_dir.name)
        for po in sorted((lang_dir / "LC_MESSAGES").glob("*.po")):
            with open(po, "rb") as f:
                for message in read_po(f, locale=lang_dir.name):
                    if message.id and message.string:
                        merged.add(message.id, message.string)
        target = Path(out) / lang_dir.name / "LC_MESSAGES" / f"{DOMAIN}.mo"
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as f:
            write_mo(f, merged)
        written.append(target)
    return written


@functools.lru_cache(maxsize=1)
def compiled_dir() -> str:
    """The folder holding <lang>/LC_MESSAGES/messages.mo."""
    if not any(SOURCE.glob("*/LC_MESSAGES/*.po")):
        return str(SOURCE)  # an installed wheel: compiled when it was built
    out = Path(tempfile.mkdtemp(prefix="thuvien-i18n-"))
    compile_into(SOURCE, out)
    return str(out)


def messages(lang: str) -> dict[str, str]:
    """{msgid: translation} of one language's compiled catalogue (empty if it has none)."""
    from babel.messages.mofile import read_mo

    path = Path(compiled_dir()) / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not path.exists():
        return {}
    with open(path, "rb") as f:
        return {m.id: m.string for m in read_mo(f)
                if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string}
