"""Numbers the library prints itself: 14 digits with a Luhn check digit, as Codabar
library labels carry them: kind (2 a patron's card, 3 a copy), the 4-digit institution,
an 8-digit sequence, the check digit."""

def luhn_digit(digits):
    """The Luhn (mod 10) check digit of a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _prefix(ctx, kind):
    """The kind and the 4-digit institution that begin every number of this kind."""
    return f"{kind}{str(ctx.setting('institution', '0001')).zfill(4)[-4:]}"


def _after_highest(model, column, library, prefix):
    """The sequence after the highest 14-digit number `prefix` begins in `column` of the
    library's rows: one index lookup (max over a range), not a count."""
    db = model._meta.database
    top = db.execute_sql(
        f"SELECT max({column}) FROM {model._meta.table_name} WHERE library = %s "
        f"AND {column} >= %s AND {column} < %s AND length({column}) = 14"
        .replace("%s", db.param), (library, prefix + "0", prefix + ":")).fetchone()[0]
    return int(top[5:13]) + 1 if top and top[5:13].isdigit() else 1


def next_barcode(ctx, kind="3"):
    """A free 14-digit item barcode: kind, 4-digit institution, sequence, Luhn digit.
    The sequence follows the highest generated one (an index lookup, not a count)."""
    from .models import Item

    prefix = _prefix(ctx, kind)
    seq = _after_highest(Item, "barcode", ctx.library, prefix)
    while True:
        body = f"{prefix}{seq:08d}"
        code = body + luhn_digit(body)
        if not Item.select().where((Item.library == ctx.library)
                                   & (Item.barcode == code)).exists():
            return code
        seq += 1


def next_cards(ctx, count):
    """`count` free 14-digit patron card numbers (kind 2), following the highest one this
    library has numbered so (one index lookup, then the new numbers checked in one query)."""
    from .models import Patron

    prefix = _prefix(ctx, "2")
    seq = _after_highest(Patron, "card", ctx.library, prefix)
    cards: list[str] = []
    while len(cards) < count:
        wanted = []
        for n in range(seq, seq + count - len(cards)):
            body = f"{prefix}{n:08d}"
            wanted.append(body + luhn_digit(body))
        seq += len(wanted)
        taken = set(Patron.select(Patron.card_key).where(
            (Patron.library == ctx.library) & (Patron.card_key << wanted)).scalars())
        cards += [c for c in wanted if c not in taken]
    return cards
