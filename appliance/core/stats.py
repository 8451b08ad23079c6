"""Figures for the desk: today's counts, overdue loans."""

from .models import Item, Loan, Patron


def today_counts(ctx):
    today = ctx.clock.today().isoformat()
    lib = ctx.library
    return {
        "loans": Loan.select().where((Loan.library == lib) & (Loan.out_at.startswith(today)))
        .count(),
        "returns": Loan.select().where((Loan.library == lib)
                                       & (Loan.returned_at.startswith(today))).count(),
        "on_loan": Loan.select().where((Loan.library == lib) & Loan.returned_at.is_null())
        .count(),
        "overdue": overdue_query(ctx).count(),
        "patrons": Patron.select().where((Patron.library == lib) & ~Patron.deleted).count(),
        "copies": Item.select().where(Item.library == lib).count(),
    }


def overdue_query(ctx):
    return (Loan.select().where((Loan.library == ctx.library) & Loan.returned_at.is_null()
                                & (Loan.due_date < ctx.clock.today().isoformat()))
            .order_by(Loan.due_date))
