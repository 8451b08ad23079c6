"""Letters of other alphabets that look like Latin ones, as a search query may carry them.

A reader who switches keyboards, or pastes a title from a chat, sends "Hоa" with a
Cyrillic "о": to the eye it is "Hoa", to an index a word nobody wrote. The table is
the Cyrillic and Greek entries of Unicode's confusables list (UTS #39) whose
look-alike is a single Latin letter, in both cases; marks ride along (the mapping is
applied to the decomposed text), so a Cyrillic "о" with a circumflex and a grave is
"ồ". Digits and Latin letters that look alike ("0"/"O", "l"/"1") are left alone: they
are different things in call numbers and ISBNs.
"""

import unicodedata

_PAIRS = (
    # Cyrillic
    "аa еe оo рp сc уy хx ѕs іi јj һh ԁd ԛq ԝw ӏl үy"
    " АA ВB ЕE ЅS ІI ЈJ КK МM НH ОO РP СC ТT ХX УY ԚQ ԜW ҮY"
    # Greek
    " αa οo ρp ιi κk νv υu χx γy"
    " ΑA ΒB ΕE ΖZ ΗH ΙI ΚK ΜM ΝN ΟO ΡP ΤT ΥY ΧX"
)
TABLE = str.maketrans({pair[0]: pair[1] for pair in _PAIRS.split()})
_SCRIPTS = ("CYRILLIC", "GREEK")


def _foreign(ch):
    return unicodedata.name(ch, "").startswith(_SCRIPTS)


def latin(word):
    """The word with every look-alike replaced by its Latin letter (NFC)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", word).translate(TABLE))


def spellings(word):
    """How a query word may be meant: [word] when nothing in it looks like something
    else; [Latin] when it mixes Latin letters with look-alikes (a typing accident);
    [word, Latin] when it is written wholly in look-alikes ("со" may be Russian or
    "co"), so that both are sought."""
    plain = latin(word)
    if plain == word:
        return [word]
    letters = [ch for ch in unicodedata.normalize("NFD", plain) if ch.isalpha()]
    if any(_foreign(ch) for ch in letters):  # a real Cyrillic or Greek word
        return [word]
    mixed = any(ch.isascii() and ch.isalpha() for ch in unicodedata.normalize("NFD", word))
    return [plain] if mixed else [word, plain]
