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


def next_barcode(ctx, kind="3"):
    """A free 14-digit item barcode: kind, 4-digit institution, sequence, Luhn digit.
    The sequence follows the highest generated one (an index lookup, not a count)."""
    from .models import Item

    institution = str(ctx.setting("institution", "0001")).zfill(4)[-4:]
    prefix = f"{kind}{institution}"
    db = Item._meta.database
    top = db.execute_sql(
        "SELECT max(barcode) FROM item WHERE library = %s AND barcode >= %s AND barcode < %s "
        "AND length(barcode) = 14".replace("%s", db.param),
        (ctx.library, prefix + "0", prefix + ":")).fetchone()[0]
    seq = int(top[5:13]) + 1 if top and top[5:13].isdigit() else 1
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

    institution = str(ctx.setting("institution", "0001")).zfill(4)[-4:]
    prefix = f"2{institution}"
    db = Patron._meta.database
    top = db.execute_sql(
        "SELECT max(card) FROM patron WHERE library = %s AND card >= %s AND card < %s "
        "AND length(card) = 14".replace("%s", db.param),
        (ctx.library, prefix + "0", prefix + ":")).fetchone()[0]
    seq = int(top[5:13]) + 1 if top and top[5:13].isdigit() else 1
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
