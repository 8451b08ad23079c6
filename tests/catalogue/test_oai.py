"""OAI-PMH 2.0 at /oai, harvested with a real harvester (sickle) over HTTP."""

import io
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

from sickle import Sickle

from appliance.core import catalogue, importer
from appliance.core.models import Bib

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "marc"
NS = {"o": "http://www.openarchives.org/OAI/2.0/"}


def _seed(ctx):
    with open(FIX / "vn-catalogue.csv", "rb") as fh:
        importer.import_stream(ctx, "csv", fh)
    bibs = list(Bib.select().order_by(Bib.id))
    for n, bib in enumerate(bibs[:10]):
        catalogue.save_item(ctx, {"bib": bib.id, "barcode": f"DH{n:04d}",
                                  "library": "PY-DH02" if n % 2 else "PY-DH01"})
    catalogue.save_bib(ctx, {"id": bibs[-1].id, "deleted": True})
    return bibs


def test_harvest_everything_with_sickle(cat_ctx, cat_app, cat_server):
    bibs = _seed(cat_ctx)
    cat_app.config["OAI_PAGE_SIZE"] = 7  # several pages: resumption tokens are exercised
    sickle = Sickle(cat_server.url + "/oai")
    ident = sickle.Identify()
    assert ident.protocolVersion == "2.0" and ident.deletedRecord == "persistent"
    assert {f.metadataPrefix for f in sickle.ListMetadataFormats()} == {"oai_dc", "marcxml"}
    assert {s.setSpec for s in sickle.ListSets()} >= {"library:PY-DH01", "library:PY-DH02"}
    records = list(sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False))
    assert len(records) == len(bibs) == 64
    by_id = {r.header.identifier.rsplit(":", 1)[1]: r for r in records}
    assert set(by_id) == {b.id for b in bibs}
    deleted = [r for r in records if r.header.deleted]
    assert [r.header.identifier for r in deleted] == [f"oai:thuvien:{bibs[-1].id}"]
    for bib in bibs[:-1]:
        md = by_id[bib.id].metadata
        assert md["title"] == [bib.title]
        assert md.get("creator", []) == bib.authors
    marc = list(sickle.ListRecords(metadataPrefix="marcxml", ignore_deleted=True))
    assert len(marc) == 63
    ids = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", set="library:PY-DH02"))
    assert len(ids) == 5
    one = sickle.GetRecord(identifier=f"oai:thuvien:{bibs[0].id}", metadataPrefix="marcxml")
    assert "DH0000" in one.raw


def _oai(client, **args):
    resp = client.get("/oai", query_string=args)
    assert resp.status_code == 200 and resp.mimetype == "text/xml"
    return ET.fromstring(resp.data)


def _error(root):
    err = root.find("o:error", NS)
    return err.get("code") if err is not None else None


def test_protocol_errors(cat_ctx, cat_app):
    _seed(cat_ctx)
    client = cat_app.test_client()
    assert _error(_oai(client)) == "badVerb"
    assert _error(_oai(client, verb="Nope")) == "badVerb"
    assert _error(_oai(client, verb="ListRecords")) == "badArgument"
    assert _error(_oai(client, verb="ListRecords", metadataPrefix="mods")) == \
        "cannotDisseminateFormat"
    assert _error(_oai(client, verb="ListRecords", resumptionToken="zzz")) == "badResumptionToken"
    assert _error(_oai(client, verb="ListRecords", metadataPrefix="oai_dc",
                       resumptionToken="x")) == "badArgument"
    assert _error(_oai(client, verb="GetRecord", identifier="oai:thuvien:nope",
                       metadataPrefix="oai_dc")) == "idDoesNotExist"
    assert _error(_oai(client, verb="ListRecords", metadataPrefix="oai_dc",
                       **{"from": "2001-13-45"})) == "badArgument"
    assert _error(_oai(client, verb="ListRecords", metadataPrefix="oai_dc",
                       **{"from": "2000-01-01", "until": "2000-12-31"})) == "noRecordsMatch"
    assert _error(_oai(client, verb="ListRecords", metadataPrefix="oai_dc",
                       **{"from": "2000-01-01", "until": "2000-12-31T00:00:00Z"})) == \
        "badArgument"


def test_from_until_select_by_last_change(cat_ctx, cat_app):
    _seed(cat_ctx)
    client = cat_app.test_client()
    cat_app.config["OAI_PAGE_SIZE"] = 500
    every = _oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    stamps = [h.findtext("o:datestamp", namespaces=NS)
              for h in every.iter("{http://www.openarchives.org/OAI/2.0/}header")]
    assert len(stamps) == 64 and stamps == sorted(stamps)
    later = _oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc",
                 **{"from": stamps[-1]})
    assert len(list(later.iter("{http://www.openarchives.org/OAI/2.0/}header"))) >= 1
    until = _oai(client, verb="ListIdentifiers", metadataPrefix="oai_dc",
                 until=stamps[-1][:10])
    assert len(list(until.iter("{http://www.openarchives.org/OAI/2.0/}header"))) == 64


# --- nothing stored may break a harvest --------------------------------------------

CONTROL = "\x01\x0b\x1b\x1d\x00"  # bytes an old MARC-8 file carries, none allowed in XML
KINDS = {".dat": "marc", ".mrc": "marc", ".xml": "marcxml", ".csv": "csv"}


def _dirty_iso2709():
    """An ISO 2709 record with control bytes in its control number, title and author."""
    import pymarc

    rec = pymarc.Record(force_utf8=True)
    rec.add_field(pymarc.Field(tag="001", data=f"dirty{CONTROL[:3]}1"))
    rec.add_field(pymarc.Field(tag="100", indicators=pymarc.Indicators("1", " "),
                               subfields=[pymarc.Subfield("a", f"Nguyễn{CONTROL[1]} Du")]))
    rec.add_field(pymarc.Field(tag="245", indicators=pymarc.Indicators("1", "0"),
                               subfields=[pymarc.Subfield("a", f"Truyện {CONTROL[:3]}Kiều & "
                                                               "<b>hoa</b>")]))
    return rec.as_marc()


def _seed_everything(ctx, tmp_path):
    """Every fixture file, broken MARC of our own, and a record stored before imports
    were cleaned (written straight into the table, as old data would be)."""
    for path in sorted(FIX.iterdir()):
        with open(path, "rb") as fh:
            importer.import_stream(ctx, KINDS[path.suffix], fh)
    dirty = _dirty_iso2709() + open(FIX / "bad_records.mrc", "rb").read()[:700]
    rep = importer.import_stream(ctx, "marc", io.BytesIO(dirty))
    assert rep.created + rep.merged >= 1
    csv_text = f"title,authors\nSách{CONTROL[0]} cũ,Tác giả{CONTROL[2]}\n"
    importer.import_stream(ctx, "csv", io.BytesIO(csv_text.encode()))
    old = Bib.select().order_by(Bib.id).first()
    stored = CONTROL.replace("\x00", "")  # PostgreSQL cannot store a NUL at all
    Bib.update(title=f"Cũ{stored}", notes=f"ghi chú{stored}", authors=[f"A{stored}"],
               marc=old.marc.replace("</subfield>", f"{stored}</subfield>", 1)
               ).where(Bib.id == old.id).execute()
    catalogue.save_item(ctx, {"bib": old.id, "barcode": "DH9999", "library": "PY-DH01"})
    return old


def test_nothing_stored_breaks_a_harvest(cat_ctx, cat_app, cat_server, tmp_path):
    from lxml import etree

    old = _seed_everything(cat_ctx, tmp_path)
    live = Bib.select().where(Bib.title != "").count()
    assert live > 100
    for bib in Bib.select():  # what was imported is clean already
        if bib.id != old.id:
            assert not any(c in (bib.title + (bib.marc or "")) for c in CONTROL), bib.title
    cat_app.config["OAI_PAGE_SIZE"] = 25
    for method in ("GET", "POST"):
        sickle = Sickle(cat_server.url + "/oai", http_method=method)
        for prefix in ("oai_dc", "marcxml"):
            # sickle parses every page with lxml: one bad character and it raises
            records = list(sickle.ListRecords(metadataPrefix=prefix, ignore_deleted=False))
            assert len(records) == live, (method, prefix)
            one = sickle.GetRecord(identifier=f"oai:thuvien:{old.id}", metadataPrefix=prefix)
            etree.fromstring(one.raw.encode())
            assert "Cũ" in one.raw and "DH9999" in one.raw or prefix == "oai_dc"
    for path in ("/opendata/catalogue.marcxml", "/opac/new.atom"):
        with urllib.request.urlopen(cat_server.url + path) as resp:
            etree.fromstring(resp.read())  # strict: raises on anything XML forbids


def test_post_is_a_harvest_and_csrf_still_guards_forms(cat_ctx, cat_app):
    _seed(cat_ctx)
    client = cat_app.test_client()
    resp = client.post("/oai", data={"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"})
    assert resp.status_code == 200
    root = ET.fromstring(resp.data)
    assert _error(root) is None and len(root.findall(".//o:header", NS)) == 64
    # odd argument names are not echoed as attributes (they may not be valid XML names)
    odd = client.post("/oai", data={"verb": "Identify", "a<b": "1"})
    assert _error(ET.fromstring(odd.data)) == "badArgument"
    # other forms still need their token
    assert client.post("/login", data={"username": "x", "password": "y"}).status_code == 400
    assert client.post("/opac/login", data={"card": "x", "pin": "y"}).status_code == 400
