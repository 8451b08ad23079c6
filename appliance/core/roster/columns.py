"""Which column of a class list holds what, recognised from its header as Vietnamese
schools write it ("Họ và tên", "Ngày sinh", "Lớp", "Giới tính", "Họ tên phụ huynh",
"Số điện thoại"...) or in English, with the header row found below any title rows."""

import re

from ..errors import N_
from ..fold import fold
from .sheet import as_text

# The fields a row may give, in the order the mapping screen shows them, with what
# each means to staff. Gender is recognised so it is seen to be left out: circulation
# does not need it (personal data: the minimum).
FIELDS = {
    "name": N_("Full name"),
    "family": N_("Family and middle name"),
    "given": N_("Given name"),
    "birth_date": N_("Date of birth"),
    "school_class": N_("Class"),
    "guardian": N_("Parent or guardian"),
    "phone": N_("Parent's phone"),
    "guardian_email": N_("Parent's e-mail"),
    "card": N_("Card number"),
    "gender": N_("Gender (not kept)"),
}
KEPT = tuple(f for f in FIELDS if f != "gender")

# Headers folded (no marks, lower case, words only) -> field. Exact names first, then
# the words a header holds (HINTS, in order: a parent's phone is a phone).
EXACT = {
    "ho va ten": "name", "ho ten": "name", "ho va ten hoc sinh": "name",
    "ho ten hoc sinh": "name", "ten hoc sinh": "name", "hoc sinh": "name",
    "full name": "name", "name": "name", "student name": "name", "pupil": "name",
    "ho": "family", "ho dem": "family", "ho va ten dem": "family", "ho va dem": "family",
    "ho va chu dem": "family", "ho lot": "family", "family name": "family",
    "surname": "family", "ten": "given", "given name": "given", "first name": "given",
    "ngay sinh": "birth_date", "ngay thang nam sinh": "birth_date",
    "ngay thang nam sinh dd mm yyyy": "birth_date", "sinh ngay": "birth_date",
    "date of birth": "birth_date", "birth date": "birth_date", "dob": "birth_date",
    "birthday": "birth_date",
    "lop": "school_class", "class": "school_class", "ten lop": "school_class",
    "grade": "school_class", "form": "school_class",
    "gioi tinh": "gender", "gender": "gender", "sex": "gender", "phai": "gender",
    "nam nu": "gender",
    "so the": "card", "ma the": "card", "the": "card", "card": "card",
    "card number": "card",
}
HINTS = (
    (("dien thoai",), "phone"), (("sdt",), "phone"), (("so dt",), "phone"),
    (("phone",), "phone"), (("mobile",), "phone"),
    (("email",), "guardian_email"), (("e", "mail"), "guardian_email"),
    (("thu dien tu",), "guardian_email"),
    (("phu huynh",), "guardian"), (("giam ho",), "guardian"), (("cha me",), "guardian"),
    (("bo me",), "guardian"), (("guardian",), "guardian"), (("parent",), "guardian"),
    (("ngay sinh",), "birth_date"), (("gioi tinh",), "gender"),
)
HEADER_SEARCH = 20  # rows: a list often starts with the school's name and a title


def folded(header):
    return " ".join(re.findall(r"[a-z0-9]+", fold(as_text(header))))


def field_of(header):
    """The field a header names, or None."""
    key = folded(header)
    if not key:
        return None
    if key in EXACT:
        return EXACT[key]
    padded = f" {key} "
    for words, name in HINTS:
        if all(f" {w} " in padded for w in words):
            if name == "phone" and _pupils_own(padded):
                return None  # a child's own number is never the contact
            if name == "guardian_email" and not any(w in padded for w in PARENT_WORDS):
                return None  # an address not said to be the parent's may be the child's
            return name
    return None


PUPIL_WORDS = (" hoc sinh ", " hs ", " ca nhan ", " student ", " pupil ", " cua em ")
PARENT_WORDS = (" phu huynh ", " cha ", " me ", " bo ", " giam ho ", " parent ",
                " guardian ")


def _pupils_own(padded):
    return any(w in padded for w in PUPIL_WORDS) and not any(
        w in padded for w in PARENT_WORDS)


def find_header(rows):
    """(index of the header row, {field: column}) for the row among the first ones that
    names the most fields; (None, {}) when none names two."""
    best: int | None = None
    best_map: dict[str, int] = {}
    for r, row in enumerate(rows[:HEADER_SEARCH]):
        mapping = guess(row)
        if len(mapping) >= 2 and len(mapping) > len(best_map):
            best, best_map = r, mapping
    return best, best_map


def guess(header_row):
    """{field: column index} from a header row: the first column naming each field."""
    mapping = {}
    for c, cell in enumerate(header_row):
        name = field_of(cell)
        if name and name not in mapping:
            mapping[name] = c
    return mapping


def headers(sheet, header_row):
    """The header cells as text, or column letters when the file has no header row."""
    width = max((len(r) for r in sheet.rows), default=0)
    if header_row is None:
        return [column_letter(c) for c in range(width)]
    row = sheet.rows[header_row]
    return [as_text(row[c]) if c < len(row) and as_text(row[c]) else column_letter(c)
            for c in range(width)]


def column_letter(c):
    letters = ""
    c += 1
    while c:
        c, rem = divmod(c - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def problems(mapping):
    """What a mapping lacks to import anything: a list of (code, msgid)."""
    out = []
    if "name" not in mapping and not ("family" in mapping and "given" in mapping):
        out.append(("map_name", N_("Say which column holds the full name (or the family "
                                   "and given names).")))
    if "birth_date" not in mapping:
        out.append(("map_birth_date", N_("Say which column holds the date of birth: it "
                                         "tells a pupil from another of the same name.")))
    return out
