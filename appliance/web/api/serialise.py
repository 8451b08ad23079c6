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
            "status": i.status, "condition": i.condition, "accession_date": i.accession_date}


def loan(x):
    return {"loan_id": x.id, "item": x.item.barcode, "title": x.item.bib.title,
            "out_at": x.out_at, "due_date": x.due_date, "renewals": x.renewals}
