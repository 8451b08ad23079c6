"""Vietnamese text folding and collation.

Search indexes two forms of every text:
- `normalize`: NFC, lower case, one canonical tone placement (so the old
  "hòa"/"thúy" and the new "hoà"/"thuý" spellings are the same string);
- `fold`: `normalize` with every mark stripped and đ→d, so a patron typing
  without diacritics on a phone finds the word.
`sort_key` orders titles as a Vietnamese reader expects
(a < ă < â, d < đ, e < ê, o < ô < ơ, u < ư; tones only break ties).
"""

import unicodedata
from functools import lru_cache
from itertools import groupby

# Combining tone marks, in the traditional dictionary order of the tones:
# ngang (none), huyền, hỏi, ngã, sắc, nặng.
TONES = "\u0300\u0309\u0303\u0301\u0323"
# Marks that make a new letter rather than a tone: breve, circumflex, horn.
SHAPES = "\u0306\u0302\u031b"
VOWELS = set("aăâeêioôơuưy")

# Primary order of the letters that differ from plain ASCII.
_LETTER_RANK = {
    "a": ("a", 0), "ă": ("a", 1), "â": ("a", 2),
    "d": ("d", 0), "đ": ("d", 1),
    "e": ("e", 0), "ê": ("e", 1),
    "o": ("o", 0), "ô": ("o", 1), "ơ": ("o", 2),
    "u": ("u", 0), "ư": ("u", 1),
}


def _split_tone(word: str) -> tuple[str, str | None]:
    """Return the word without its tone mark (NFC) and the tone mark."""
    tone = None
    kept = []
    for ch in unicodedata.normalize("NFD", word):
        if ch in TONES and tone is None:
            tone = ch
        else:
            kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept)), tone


def _vowel_span(word: str) -> tuple[int, int]:
    """Index range of the vowel nucleus of a (lower-case, toneless) syllable."""
    start = 0
    if word.startswith("qu"):
        start = 2
    elif word.startswith("gi") and len(word) > 2 and word[2] in VOWELS:
        start = 2
    while start < len(word) and word[start] not in VOWELS:
        start += 1
    end = start
    while end < len(word) and word[end] in VOWELS:
        end += 1
    return start, end


def _tone_position(word: str) -> int | None:
    """Where the tone goes in `word` (new-style placement), or None."""
    start, end = _vowel_span(word)
    if start == end:
        return None
    nucleus = word[start:end]
    shaped = [i for i, ch in enumerate(nucleus) if ch in "ăâêôơư"]
    if shaped:
        return start + shaped[-1]
    if len(nucleus) == 1:
        return start
    if len(nucleus) == 3 or end < len(word):  # ngoài, khuỷu; hoàng, toán
        return start + 1
    if nucleus in ("oa", "oe", "uy"):  # open syllable: hoà, khoẻ, thuý
        return start + 1
    return start  # mùa, hái, cháu


@lru_cache(maxsize=65536)  # a catalogue has a few thousand distinct syllables
def canonical_tone(word: str) -> str:
    """One spelling per syllable: hòa → hoà, thúy → thuý, hóa → hoá."""
    if not word or not word.isalpha():
        return word
    base, tone = _split_tone(word)
    if tone is None:
        return word
    lower = base.lower()
    pos = _tone_position(lower)
    if pos is None or len(lower) != len(base):
        return word
    ch = unicodedata.normalize("NFC", unicodedata.normalize("NFD", base[pos]) + tone)
    return base[:pos] + ch + base[pos + 1:]


def _words(text: str):
    """Split into runs of letters and runs of everything else, keeping both."""
    return ["".join(run) for _, run in groupby(text, str.isalpha)]


def normalize(text: str) -> str:
    """NFC, lower case, canonical tone placement. Keeps every diacritic."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text).lower()
    return "".join(canonical_tone(w) for w in _words(text))


class _FoldTable(dict):
    """str.translate table filled on first sight of a character: its NFD with the
    marks dropped and đ→d. Per character this equals folding the whole text, since
    only marks (which go) can combine across characters."""

    def __missing__(self, code):
        decomposed = unicodedata.normalize("NFD", chr(code)).replace("đ", "d")
        self[code] = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        return self[code]


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """Lower case, marks stripped, đ→d: what a diacritic-less query matches."""
    if not text:
        return ""
    text = text.lower()
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", text.translate(_FOLD))


def has_marks(text: str) -> bool:
    """True when the text carries any Vietnamese diacritic."""
    return fold(text) != unicodedata.normalize("NFC", (text or "").lower())


def sort_key(text: str) -> str:
    """A string whose code-point order is Vietnamese dictionary order."""
    primary, tones = [], []
    for word in _words(normalize(text)):
        if not word.isalpha():
            primary.append(word.strip() + "0" if word.strip() else " 0")
            continue
        letters, tone = _word_key(word)
        primary.append(letters)
        tones.append(tone)
    return "".join(primary) + "\x01" + "".join(tones)


@lru_cache(maxsize=65536)
def _word_key(word: str) -> tuple[str, str]:
    """(letters with their rank, tone digit) of one normalized word."""
    base, tone = _split_tone(word)
    letters = []
    for ch in base:
        letter, rank = _LETTER_RANK.get(ch, (fold(ch) or ch, 0))
        letters.append(f"{letter}{rank}")
    return "".join(letters), str(TONES.index(tone) + 1) if tone else "0"


def name_sort_key(name: str) -> str:
    """Order of a list of people as Vietnamese lists are kept (a class list, a register):
    by the given name, which comes last ("Nguyễn Văn An" under A), then by the whole
    name, each in Vietnamese dictionary order."""
    words = (name or "").split()
    given = words[-1] if words else ""
    return sort_key(given) + "\x02" + sort_key(name or "")
