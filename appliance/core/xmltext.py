"""Text that XML 1.0 can carry. Old MARC files hold control bytes (ESC of MARC-8, stray
record separators, NULs) that no XML document may contain, not even escaped: one such
character in one record would make a whole feed or harvest unreadable. They are taken
out on import and again on output, for records stored before that."""

import re

# XML 1.0 Char: tab, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF.
_FORBIDDEN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text):
    """`text` without the characters XML forbids (a lone surrogate becomes U+FFFD)."""
    if not isinstance(text, str):
        return text
    return _FORBIDDEN.sub(_replacement, text)


def _replacement(match):
    return "\ufffd" if "\ud800" <= match.group(0) <= "\udfff" else ""


def xml_safe_values(data):
    """A dict, list or string with every string in it made XML-safe."""
    if isinstance(data, str):
        return xml_safe(data)
    if isinstance(data, dict):
        return {k: xml_safe_values(v) for k, v in data.items()}
    if isinstance(data, list):
        return [xml_safe_values(v) for v in data]
    return data


def clean_record(record):
    """A pymarc record with every control field, indicator and subfield XML-safe."""
    from pymarc import Indicators, Leader, Subfield

    record.leader = Leader(_fixed(str(record.leader), 24, "00000nam a2200000 a 4500"))
    for f in record.fields:
        f.tag = xml_safe(f.tag)
        if f.is_control_field():
            f.data = xml_safe(f.data)
            continue
        ind = [xml_safe(i or " ")[:1] or " " for i in (f.indicator1, f.indicator2)]
        f.indicators = Indicators(*ind)
        f.subfields = [Subfield(xml_safe(s.code)[:1] or "a", xml_safe(s.value or ""))
                       for s in f.subfields]
    return record


def _fixed(text, size, fallback):
    """A fixed-length MARC string (the leader) kept XML-safe and of the right length."""
    clean = xml_safe(text)
    return clean if len(clean) == size else (clean + fallback[len(clean):])[:size]
