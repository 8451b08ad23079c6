"""The indexed keys people find records by, kept beside what was typed.

The projector fills them from each saved patron and record (`KEYED`), so every node
derives the same keys from the same events and a rebuild gives them again; migration 12
fills them for rows saved before they existed (`refill`). Search and sorting then read
an index, never a Python scan:
- a card as a card reader or a person types it: no surrounding spaces, any case;
- a patron's name folded (no marks, đ→d) for searching, and its Vietnamese sort key;
- a record's folded title and first author, and its ISBN as ISBN-13, which the
  duplicate warning looks up.
If `fold` changes, `refill` must run again (a migration), or old rows stay under the
old keys."""

import re

from . import dialect
from . import isbn as isbn_forms
from .fold import fold, name_sort_key
from .models import Bib, Patron

DUP_KEY_LENGTH = 255  # a btree entry stays small on PostgreSQL whatever the title


def card_key(card):
    """A card number as it is matched: "  tv0001 " is card TV0001."""
    return (card or "").strip().upper()


def words_of(text):
    """Folded words: lower case, no marks, đ→d, punctuation gone."""
    return " ".join(re.findall(r"\w+", fold(text or "")))


def isbn13(isbn):
    """The ISBN-13 of a checked ISBN-10 or -13 (as catalogue.normalise_isbn keeps it);
    the same book under either form has one key. None for no ISBN."""
    if not isbn:
        return None
    return (isbn_forms.other_form(isbn) or isbn) if len(isbn) == 10 else isbn


def dup_key(title, authors):
    """A record's folded title and first author: what "the same book" means to the
    duplicate warning. Empty for a record with no title (a copy's stub)."""
    if not (title or "").strip():
        return ""
    first = authors[0] if authors else ""
    return (words_of(title) + "|" + words_of(first))[:DUP_KEY_LENGTH]


def patron_keys(row):
    row.card_key = card_key(row.card)
    row.name_key = words_of(row.name)
    row.name_sort = name_sort_key(row.name or "")


def bib_keys(row):
    row.dup_key = dup_key(row.title, row.authors or [])
    row.isbn13 = isbn13(row.isbn)


KEYED = {Patron: patron_keys, Bib: bib_keys}


def keep_keys(row):
    """Set the keys of a patron or record row from its fields (others have none)."""
    keys = KEYED.get(type(row))
    if keys is not None:
        keys(row)


_CHUNK = 1000


def refill(db):
    """Fill the keys of every patron and record from the fields they hold (migration),
    a chunk at a time in the order of their ids (a hub holds a million records)."""
    keyed: tuple[tuple[type[Patron] | type[Bib], tuple, tuple[str, ...]], ...] = (
        (Patron, (Patron.card, Patron.name), ("card_key", "name_key", "name_sort")),
        (Bib, (Bib.title, Bib.authors, Bib.isbn), ("dup_key", "isbn13")))
    for model, fields, columns in keyed:
        text = dialect.sql("UPDATE %s SET %s WHERE id = ?" % (
            model._meta.table_name, ", ".join(f"{c} = ?" for c in columns)))
        last = ""
        while True:
            # only the fields the keys are made of: migration 12 runs on a database
            # without the columns later steps add (a record's `rare`, migration 18)
            rows = list(model.select(model.id, *fields).where(model.id > last)
                        .order_by(model.id).limit(_CHUNK))
            if not rows:
                break
            for row in rows:
                keep_keys(row)
            dialect.run_many([(text, (*(getattr(row, c) for c in columns), row.get_id()))
                              for row in rows])
            last = rows[-1].get_id()
