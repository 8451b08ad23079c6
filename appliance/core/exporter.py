"""The live catalogue as MARC records with holdings, for export files and dumps."""

from .marcfiles import write_iso2709, write_marcxml
from .marcmap import bib_to_record


def bib_dict(bib):
    return {k: getattr(bib, k) for k in ("title", "authors", "publisher", "year", "isbn",
                                         "language", "ddc", "subjects", "series", "notes",
                                         "marc", "control_number")}


def catalogue_records(library=None):
    """MARC records of the whole live catalogue with holdings (of one library)."""
    from .models import Bib, Item

    bibs = Bib.select().where(~Bib.deleted & (Bib.title != "")).order_by(Bib.created_at, Bib.id)
    for bib in bibs.iterator():
        items = Item.select().where(Item.bib == bib.id).order_by(Item.barcode)
        if library:
            items = items.where(Item.library == library)
        copies = [{"barcode": i.barcode, "library": i.library, "location": i.location,
                   "call_number": i.call_number, "item_type": i.item_type,
                   "accession_date": i.accession_date} for i in items]
        yield bib_to_record(bib_dict(bib), copies)


WRITERS = {"marc": write_iso2709, "marcxml": write_marcxml}
