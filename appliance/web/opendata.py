"""Bulk dumps of the open catalogue (records and copies, never patrons):
/opendata/catalogue.marcxml and /opendata/catalogue.csv, streamed."""

import csv
import io

from flask import Blueprint, Response, stream_with_context

from ..core.models import Bib, Item
from .auth import public

bp = Blueprint("opendata", __name__, url_prefix="/opendata")
CSV_COLUMNS = ("id", "title", "authors", "publisher", "year", "isbn", "language", "ddc",
               "subjects", "series", "copies", "available")


@bp.route("/catalogue.marcxml")
@public
def marcxml():
    # pymarc is imported by the pages that use it, not with the server: its tables are 4 MB
    # of memory that a Pi serving the desk would hold for nothing.
    from pymarc import record_to_xml

    from ..core import exporter

    def chunks():
        yield '<?xml version="1.0" encoding="UTF-8"?>\n'
        yield '<collection xmlns="http://www.loc.gov/MARC21/slim">\n'
        for record in exporter.catalogue_records():  # records made XML-safe there
            yield record_to_xml(record).decode("utf-8") + "\n"
        yield "</collection>\n"
    return Response(stream_with_context(chunks()), mimetype="application/xml",
                    headers={"Content-Disposition": "attachment; filename=catalogue.xml"})


@bp.route("/catalogue.csv")
@public
def catalogue_csv():
    from ..core.catalogue_csv import spreadsheet_row  # with pymarc: as marcxml() above

    def chunks():
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(CSV_COLUMNS)
        bibs = Bib.select().where(~Bib.deleted & (Bib.title != "")).order_by(Bib.id)
        for bib in bibs.iterator():
            items = list(Item.select(Item.status).where(Item.bib == bib.id).tuples())
            writer.writerow(spreadsheet_row([
                bib.id, bib.title, "; ".join(bib.authors or []), bib.publisher, bib.year,
                bib.isbn, bib.language, bib.ddc, "; ".join(bib.subjects or []), bib.series,
                len(items), sum(s == "available" for (s,) in items)]))
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    return Response(stream_with_context(chunks()), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=catalogue.csv"})
