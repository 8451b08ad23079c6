"""Lookups that commands and the projector share, prepared once."""

from .models import Loan
from .prepared import Prepared

OPEN_LOAN = Prepared(Loan, lambda item: Loan.select().where(
    (Loan.item == item) & Loan.returned_at.is_null()), 1)
