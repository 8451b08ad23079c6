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


def test_csv_dump_cells_never_start_a_formula(client, ctx):
    from appliance.core import catalogue

    evil = ["=HYPERLINK(\"http://x.invalid\",\"a\")", "+1+2", "-2+3", "@SUM(A1)", "\t=1",
            "\r=1"]
    saved = [catalogue.save_bib(ctx, {"title": title, "authors": [evil[-1 - n]],
                                      "publisher": evil[n - 1]})
             for n, title in enumerate(evil)]
    rows = list(csv.DictReader(io.StringIO(client.get("/opendata/catalogue.csv")
                                           .get_data(as_text=True))))
    cells = [r[k] for r in rows for k in ("title", "authors", "publisher") if r[k]]
    assert len([c for c in cells if c.startswith("'")]) >= 3 * len(evil)
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert {r["title"] for r in rows} >= {"'" + b.title for b in saved}
