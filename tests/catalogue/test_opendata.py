"""Bulk dumps hold the whole open catalogue and nothing about patrons."""

import csv
import io

from appliance.core import marcfiles
from appliance.core.models import Bib, Patron


def test_dumps_hold_every_record_and_no_patron(client, ctx):
    held = {b.title for b in Bib.select().where(~Bib.deleted)}
    xml = client.get("/opendata/catalogue.marcxml")
    assert xml.status_code == 200
    parsed = list(marcfiles.read_marcxml(io.BytesIO(xml.data)))
    assert {p.bib["title"] for p in parsed} == held
    assert sorted(c["barcode"] for p in parsed for c in p.copies) == [
        "1001", "1002", "1003", "1004", "1005"]
    rows = list(csv.DictReader(io.StringIO(client.get("/opendata/catalogue.csv")
                                           .get_data(as_text=True))))
    assert {r["title"] for r in rows} == held
    for dump in (xml.get_data(as_text=True), str(rows)):
        for p in Patron.select():
            assert p.name not in dump and p.card not in dump
