"""Each row of a class list as a patron, with everything wrong with it: a missing
name, a date of birth that is no date, a pupil already registered (same name folded and
same date of birth), a card number taken, the same pupil or card twice in the file, a
child without a guardian or consent, a phone that is no Vietnamese number, a formula.
Rows with no problem are the ones imported; the others are shown with their reasons."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import cast

from ..errors import N_
from ..findkeys import card_key, words_of
from ..models import Patron
from ..notices.routing import usable
from ..patrons import CARD_RE
from . import columns, rules
from .sheet import as_text

EXCEL_EPOCH = date(1899, 12, 30)
MAX_TEXT = 100


@dataclass
class Row:
    line: int  # the row's number as the spreadsheet shows it (1-based)
    shown: dict  # field -> the text of the file, for the preview
    fields: dict = field(default_factory=dict)  # the patron's fields, when it can be one
    problems: list = field(default_factory=list)  # (code, msgid, params)
    card: str | None = None  # the card it got, once imported

    @property
    def ok(self):
        return not self.problems

    def problem(self, code, msgid, **params):
        self.problems.append((code, msgid, params))


@dataclass
class Preview:
    rows: list
    mapping: dict
    header_row: int | None
    headers: list
    missing: list  # what the mapping lacks, as columns.problems says
    sheet_name: str = ""
    encoding: str | None = None
    others: list = field(default_factory=list)  # sheets not read

    @property
    def good(self):
        return [r for r in self.rows if r.ok]

    @property
    def bad(self):
        return [r for r in self.rows if not r.ok]


def parse_date(cell):
    """A date of birth from a cell: an Excel date, an Excel day number, dd/mm/yyyy (or
    with - or .), or yyyy-mm-dd. None when it is none of these."""
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return EXCEL_EPOCH + timedelta(days=int(cell)) if 10000 < cell < 80000 else None  # 1927 on; 2013 is a year
    text = as_text(cell)
    m = re.fullmatch(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})", text)
    parts = (m.group(3), m.group(2), m.group(1)) if m else None
    m = m or re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if m and parts is None:
        parts = (m.group(1), m.group(2), m.group(3))
    if parts is None:
        return None
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def phone_number(text):
    """A Vietnamese phone number as 0 and 9 or 10 digits, or None: +84 and 84 become 0, a
    leading 0 Excel dropped from a number is put back, spaces, dots and dashes go."""
    digits = re.sub(r"[\s.\-()]", "", text)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    elif len(digits) == 9 and digits.isdigit():
        digits = "0" + digits
    return digits if re.fullmatch(r"0\d{9,10}", digits) else None


def clean_name(text):
    name = " ".join(text.split())
    return name.title() if name.isupper() else name


def existing(library):
    """(the library's pupils by folded name and date of birth, its card keys)."""
    by_person: dict[tuple[str, str], str] = {}
    cards: set[str] = set()
    query = Patron.select(Patron.card, Patron.name_key, Patron.birth_date).where(
        (Patron.library == library) & ~Patron.deleted)
    for card, name_key, birth in cast("Iterable[tuple[str, str, str]]", query.tuples()):
        cards.add(card_key(card))
        if birth:
            by_person.setdefault((name_key, birth), card)
    return by_person, cards


def check(sheet, header_row, mapping, library, today, consent):
    """The preview of a class list: every data row with its problems."""
    year_end, child_age = rules.of(library)
    by_person, cards = existing(library)
    seen_people: dict[tuple[str, str], int] = {}
    seen_cards: dict[str, int] = {}
    expiry = rules.year_end_after(year_end, today).isoformat()
    out = []
    start = 0 if header_row is None else header_row + 1
    for r in range(start, len(sheet.rows)):
        cells = sheet.rows[r]
        if not any(as_text(c) for c in cells) and not any(
                (r, c) in sheet.formulas for c in range(len(cells) + 1)):
            continue
        row = _row(sheet, r, cells, mapping)
        _check_row(row, cells, mapping, today, child_age, consent)
        if row.fields.get("name") and row.fields.get("birth_date"):
            person = (words_of(row.fields["name"]), row.fields["birth_date"])
            if person in by_person:
                row.problem("already_registered", N_("Already registered: card %(card)s "
                                                     "has the same name and date of birth."),
                            card=by_person[person])
            elif person in seen_people:
                row.problem("twice_in_file", N_("The same pupil as row %(line)s."),
                            line=seen_people[person])
            else:
                seen_people[person] = row.line
        card = row.fields.get("card")
        if card:
            if card_key(card) in cards:
                row.problem("card_taken", N_("Card %(card)s is already in use."), card=card)
            elif card_key(card) in seen_cards:
                row.problem("card_twice", N_("Card %(card)s is also on row %(line)s."),
                            card=card, line=seen_cards[card_key(card)])
            else:
                seen_cards[card_key(card)] = row.line
        row.fields["expiry"] = expiry
        out.append(row)
    return out


def _row(sheet, r, cells, mapping):
    shown = {}
    for name, c in mapping.items():
        shown[name] = as_text(cells[c]) if c < len(cells) else ""
        if (r, c) in sheet.formulas:
            shown[name] = "="
    row = Row(line=r + 1, shown=shown)
    for c in mapping.values():
        if (r, c) in sheet.formulas:
            row.problem("formula", N_("Cell %(cell)s holds a formula: copy the values "
                                      "only (Paste special, Values)."),
                        cell=f"{columns.column_letter(c)}{r + 1}")
    return row


def _cell(cells, mapping, name):
    c = mapping.get(name)
    return cells[c] if c is not None and c < len(cells) else None


def _check_row(row, cells, mapping, today, child_age, consent):
    fields = row.fields
    name = clean_name(as_text(_cell(cells, mapping, "name")))
    if not name and ("family" in mapping or "given" in mapping):
        name = clean_name(" ".join(as_text(_cell(cells, mapping, f))
                                   for f in ("family", "given")))
    if not name or not any(ch.isalpha() for ch in name):
        row.problem("name_required", N_("The name is missing."))
    elif len(name) > MAX_TEXT:
        row.problem("too_long", N_("%(value)s… is longer than %(max)s characters."),
                    value=name[:20], max=MAX_TEXT)
    else:
        fields["name"] = name
    raw = _cell(cells, mapping, "birth_date")
    birth = parse_date(raw)
    if not as_text(raw):
        row.problem("birth_date_required", N_("The date of birth is missing."))
    elif birth is None:
        row.problem("bad_birth_date", N_("%(value)s is not a date (dd/mm/yyyy)."),
                    value=as_text(raw))
    elif not today.replace(year=today.year - 100) < birth <= today:
        row.problem("unlikely_birth_date", N_("%(value)s cannot be a pupil's date of "
                                              "birth."), value=birth.strftime("%d/%m/%Y"))
    else:
        fields["birth_date"] = birth.isoformat()
        fields["birth_year"] = birth.year
        fields["category"] = rules.category(birth, today, child_age)
    _texts(row, cells, mapping)
    phone = as_text(_cell(cells, mapping, "phone"))
    if phone:
        number = phone_number(phone)
        if number is None:
            row.problem("bad_phone", N_("%(value)s is not a Vietnamese phone number."),
                        value=phone)
        else:
            fields["phone"] = number
    address = as_text(_cell(cells, mapping, "guardian_email")).strip()
    if address:  # where the library's notices go (core/notices): the parent's
        if usable(address):
            fields["guardian_email"] = address
        else:
            row.problem("bad_email", N_("%(value)s is not an e-mail address."),
                        value=address[:60])
    if fields.get("category") == "child":
        if not fields.get("guardian"):
            row.problem("guardian_required", N_("Under %(age)s: the parent's or guardian's "
                                                "name is needed."), age=child_age)
        elif not consent:
            row.problem("consent_required", N_("Under %(age)s: confirm that the parents "
                                               "gave their consent."), age=child_age)
        else:
            fields["guardian_consent"] = True


def _texts(row, cells, mapping):
    for name, limit in (("school_class", 32), ("guardian", MAX_TEXT)):
        text = " ".join(as_text(_cell(cells, mapping, name)).split())
        if name == "guardian":
            text = clean_name(text)
        if len(text) > limit:
            row.problem("too_long", N_("%(value)s… is longer than %(max)s characters."),
                        value=text[:20], max=limit)
        elif text:
            row.fields[name] = text.upper() if name == "school_class" and len(text) <= 4 \
                else text
    card = as_text(_cell(cells, mapping, "card"))
    if card:
        if not CARD_RE.match(card):
            row.problem("bad_card", N_("A card number is 3 to 32 letters, digits or "
                                       "dashes."))
        else:
            row.fields["card"] = card
