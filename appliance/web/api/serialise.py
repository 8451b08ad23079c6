"""Rows as the API shows them."""

from ...core import search
from ...core.models import Loan


def patron(p):
    return {"id": p.id, "card": p.card, "name": p.name, "category": p.category,
            "library": p.library, "expiry": p.expiry, "blocked": p.blocked,
            "block_reason": p.block_reason, "guardian": p.guardian, "phone": p.phone,
            "email": p.email, "school_class": p.school_class, "birth_date": p.birth_date,
            "loans": [loan(x) for x in Loan.select().where(
                (Loan.patron == p.id) & Loan.returned_at.is_null()).order_by(Loan.due_date)]}


def bib(b):
    return {"id": b.id, "title": b.title, "authors": b.authors, "publisher": b.publisher,
            "year": b.year, "isbn": b.isbn, "language": b.language, "ddc": b.ddc,
            "subjects": b.subjects, "series": b.series, "notes": b.notes,
            "availability": search.availability(b.id)}


def item(i):
    return {"id": i.id, "bib_id": i.bib_id, "barcode": i.barcode, "library": i.library,
            "item_type": i.item_type, "location": i.location, "call_number": i.call_number,
            "status": i.status, "condition": i.condition, "accession_date": i.accession_date,
            "price": i.price}


def loan(x):
    return {"loan_id": x.id, "item": x.item.barcode, "title": x.item.bib.title,
            "out_at": x.out_at, "due_date": x.due_date, "renewals": x.renewals}


def fee(line):
    """A fee (core/fees/statement.Line): amounts in whole đồng (`balance`: what is
    still owed of `amount`, less `paid` and `waived`); `payable_here` says
    whether this library takes its payment or waives it (else the charging one does)."""
    f, copy = line.fee, line.copy
    return {"id": f.id, "patron": line.card, "library": f.library,
            "library_name": line.library, "item": copy.barcode if copy else None,
            "title": copy.bib.title if copy else None, "kind": f.kind, "amount": f.amount,
            "paid": line.paid, "waived": line.waived, "balance": line.balance,
            "currency": "VND", "state": f.state, "charged_at": f.charged_at,
            "charged_by": f.charged_by, "settled_at": f.settled_at,
            "settled_by": f.settled_by, "reason": f.reason, "payable_here": line.here}


def fees(card, st):
    """A patron's statement (core/fees/statement.Statement)."""
    return {"card": card, "currency": "VND", "fees": [fee(x) for x in st.fees],
            "totals": {"owed": st.owed, "open": st.count, "owed_here": st.owed_here,
                       "owed_elsewhere": st.owed_elsewhere, "limit": st.limit,
                       "over_limit": st.over_limit,
                       "elsewhere": [{"library": code, "library_name": name, "amount": amount}
                                     for code, name, amount in st.elsewhere]}}
