"""A patron's fees as staff read them, at the desk or through the API: each fee with
the library that charged it, its copy, and whether this device may settle it, and the
totals: what is owed (the balances: each fee less what was paid and waived of it), how
much of it is paid here and how much elsewhere, the limit.

Fees another library charged reach a patron's home library (sync.receive.owed_at_home)
and count there toward the block, but only that library (or the hub) takes them, so a
statement keeps the two apart."""

from dataclasses import dataclass, field

from ..models import Bib, Fee, Item, Library, Patron
from . import balance, commands


@dataclass
class Line:
    fee: Fee
    copy: Item | None  # with its bib; None when the copy is not held here
    library: str  # the charging library's name, or its code when its name is not held
    here: bool  # whether this device takes its payment or waives it
    card: str  # the patron's card
    paid: int = 0  # paid of it so far
    waived: int = 0  # waived of it
    balance: int = 0  # still owed: amount - paid - waived while open, else 0


@dataclass
class Statement:
    fees: list[Line] = field(default_factory=list)
    owed: int = 0  # every open fee held here
    count: int = 0  # how many are open
    owed_here: int = 0  # the open fees this device may take
    owed_elsewhere: int = 0  # the open fees other libraries take
    elsewhere: list[tuple[str, str, int]] = field(default_factory=list)  # (code, name, VND)
    limit: int = 0  # above this the card borrows nothing at this library
    over_limit: bool = False


def lines(ctx, fees):
    """`fees` as Lines, their copies, libraries and cards read in one query each."""
    if not fees:
        return []
    copies = {item.id: item for item in Item.select(Item, Bib).join(Bib).where(
        Item.id << [fee.item for fee in fees if fee.item])}
    names = {lib.code: lib.name for lib in Library.select(Library.code, Library.name).where(
        Library.code << {fee.library for fee in fees})}
    cards = {p.id: p.card for p in Patron.select(Patron.id, Patron.card).where(
        Patron.id << {fee.patron for fee in fees})}
    done = balance.parts([fee.id for fee in fees])
    return [Line(fee=fee, copy=copies.get(fee.item), library=names.get(fee.library)
                 or fee.library, here=commands.settled_here(ctx, fee),
                 card=cards.get(fee.patron, ""),
                 paid=done.get(fee.id, (0, 0))[0], waived=done.get(fee.id, (0, 0))[1],
                 balance=balance.balance_of(fee, done.get(fee.id, (0, 0)))) for fee in fees]


def line(ctx, fee):
    return lines(ctx, [fee])[0]


def of_patron(ctx, patron):
    """The patron's fees (open ones first, newest first) and what they owe. The limit is
    this library's rule for the card's category, as the block reckons it."""
    rows = lines(ctx, balance.of_patron(patron.id))
    unpaid = [row for row in rows if row.fee.state == "open"]
    owed = sum(row.balance for row in unpaid)
    here = sum(row.balance for row in unpaid if row.here)
    most = balance.limit(ctx.library, patron.category)
    return Statement(fees=rows, owed=owed, count=len(unpaid), owed_here=here,
                     owed_elsewhere=owed - here, elsewhere=_by_library(unpaid), limit=most,
                     over_limit=owed > most)


def _by_library(unpaid):
    """The open fees this device cannot take, summed per library that takes them."""
    owed: dict[tuple[str, str], int] = {}
    for row in unpaid:
        if not row.here:
            key = (row.fee.library, row.library)
            owed[key] = owed.get(key, 0) + row.balance
    return [(code, name, amount) for (code, name), amount in sorted(owed.items())]
