"""Fees: what a reader pays for a copy lost or damaged on loan (phí bồi thường), and for
a copy returned late (phí quá hạn, the loan rule's `fee_per_day` for each day late).

Three kinds of event, applied by the one projector and synced like every other:

- `fee.charged`: the copy's library charges the borrower (the copy's price, else the
  replacement charge of the loan rule for the patron's category and the copy's type;
  kind "overdue": the fee its late return reckoned, charged with that return);
- `fee.paid` (an amount: the whole balance or a part of it; from a SIP2 machine with
  its transaction id) and `fee.waived` (what is left, with a reason), at the library
  that charged it (or the hub, which acts for the town); the fee is settled when what
  was paid and waived reaches its amount (`projection`).

`commands` makes them, `projection` applies them, `rules` says who may make them,
`balance` reckons what a patron owes and whether it stops new loans, `statement` lists a
patron's fees for staff (the desk's patron page and the API). This package
imports nothing at import time but models, errors and policy, so the projector, the
authority check and patrons.blocks can name its parts without a cycle.
"""

from ..errors import N_

# What each kind of fee is for, in one set of words: the desk's fees and receipts, the
# patron's account and the data a patron downloads (rights.export) all say it so.
KINDS = {"lost": N_("Copy lost"), "damaged": N_("Copy damaged"),
         "overdue": N_("Returned late")}


def vnd(amount):
    """An amount of đồng as Vietnamese readers write it: 150.000 ₫."""
    return f"{int(amount or 0):,}".replace(",", ".") + " ₫"
