"""Vietnamese catalogues typed before Unicode: TCVN3 (ABC) and VNI font bytes, detected
and converted to Unicode (and back, for tests and for libraries still on those fonts)."""

import re
import unicodedata

from .fold import TONES

_TONED = {  # unicode base letter -> its five toned forms (grave hook tilde acute dot)
    base: [unicodedata.normalize("NFC", base + t) for t in TONES] for base in "aăâeêioôơuưy"
}
# TCVN3 (ABC): one byte per lower-case letter, read as Latin-1 characters.
_TCVN3_TONED = {
    "a": "µ¶·¸¹", "ă": "»¼½¾Æ", "â": "ÇÈÉÊË", "e": "ÌÎÏÐÑ", "ê": "ÒÓÔÕÖ", "i": "×ØÜÝÞ",
    "o": "ßáâãä", "ô": "åæçèé", "ơ": "êëìíî", "u": "ïñòóô", "ư": "õö÷øù", "y": "úûüýþ",
}
_TCVN3_PLAIN = {"ă": "¨", "â": "©", "ê": "ª", "ô": "«", "ơ": "¬", "ư": "\xad", "đ": "®",
                "Ă": "¡", "Â": "¢", "Ê": "£", "Ô": "¤", "Ơ": "¥", "Ư": "¦", "Đ": "§"}
# VNI: a base letter followed by one mark character (cp1252 view of the bytes).
_VNI_TONE = "øûõùï"        # grave hook tilde acute dot
_VNI_CIRC_TONE = "àåãáä"   # circumflex + tone
_VNI_BREVE_TONE = "èúüéë"  # breve + tone
_VNI_I = "ìæóíò"           # i with a tone is one character
_VNI_SINGLE = {"ơ": "ô", "ư": "ö", "đ": "ñ"}


def _tcvn3_table():
    table = {}
    for base, codes in _TCVN3_TONED.items():
        for uni, code in zip(_TONED[base], codes, strict=True):
            table[code] = uni
    table.update({code: uni for uni, code in _TCVN3_PLAIN.items()})
    return table


def _vni_pairs():
    """(vni sequence, unicode letter) for lower case; upper case is derived."""
    pairs = [(code, uni) for uni, code in _VNI_SINGLE.items()]
    pairs += list(zip(_VNI_I, _TONED["i"], strict=True))
    for base in "aeouy":
        marks = _VNI_TONE.replace("ï", "î") if base == "y" else _VNI_TONE
        pairs += [(base + m, uni) for m, uni in zip(marks, _TONED[base], strict=True)]
    for base, uni_base in (("a", "â"), ("e", "ê"), ("o", "ô")):
        pairs.append((base + "â", uni_base))
        pairs += [(base + m, uni) for m, uni in zip(_VNI_CIRC_TONE, _TONED[uni_base], strict=True)]
    pairs.append(("aê", "ă"))
    pairs += [("a" + m, uni) for m, uni in zip(_VNI_BREVE_TONE, _TONED["ă"], strict=True)]
    for code, uni_base in (("ô", "ơ"), ("ö", "ư")):
        pairs += [(code + m, uni) for m, uni in zip(_VNI_TONE, _TONED[uni_base], strict=True)]
    return pairs + [(v.upper(), u.upper()) for v, u in pairs]


TCVN3_TO_UNICODE = _tcvn3_table()
VNI_TO_UNICODE = dict(_vni_pairs())
_TCVN3_TRANS = str.maketrans(TCVN3_TO_UNICODE)
_VNI_RE = re.compile("|".join(sorted(map(re.escape, VNI_TO_UNICODE), key=len, reverse=True)))
UNICODE_TO_TCVN3 = {u: c for c, u in TCVN3_TO_UNICODE.items()}
UNICODE_TO_VNI = {u: v for v, u in VNI_TO_UNICODE.items()}


def from_tcvn3(text):
    return text.translate(_TCVN3_TRANS)


def from_vni(text):
    return _VNI_RE.sub(lambda m: VNI_TO_UNICODE[m.group(0)], text)


def to_tcvn3(text):
    """Unicode → TCVN3 (as Latin-1 characters); upper-case toned letters lose case."""
    text = unicodedata.normalize("NFC", text)
    return "".join(UNICODE_TO_TCVN3.get(c, UNICODE_TO_TCVN3.get(c.lower(), c)) for c in text)


def to_vni(text):
    return "".join(UNICODE_TO_VNI.get(c, c) for c in unicodedata.normalize("NFC", text))


_VN_LETTERS = set("abcdefghijklmnopqrstuvwxyzđ" + "".join(sum(_TONED.values(), [])) + "ăâêôơư")
_WORD_RE = re.compile(r"[^\s\-/.,:;()\[\]\"'!?=+&*0-9]+")


def stray_score(text):
    """(words that read as Vietnamese/Latin, words with stray symbols)."""
    good = bad = 0
    for word in _WORD_RE.findall(text.lower()):
        if all(c in _VN_LETTERS for c in word):
            tones = sum(1 for c in unicodedata.normalize("NFD", word) if c in TONES)
            good, bad = (good + 1, bad) if tones <= 1 else (good, bad + 1)
        elif any(ord(c) > 0x7F for c in word):
            bad += 1
    return good, bad


def detect_legacy(text):
    """'tcvn3', 'vni' or None: which conversion turns stray symbols into Vietnamese."""
    if text.isascii():
        return None
    good, bad = stray_score(text)
    if bad == 0:
        return None
    best, best_score = None, (bad, -good)
    for name, convert in (("vni", from_vni), ("tcvn3", from_tcvn3)):
        g, b = stray_score(convert(text))
        if (b, -g) < best_score:
            best, best_score = name, (b, -g)
    return best


def convert_legacy(text, encoding):
    return {"tcvn3": from_tcvn3, "vni": from_vni}[encoding](text) if encoding else text
