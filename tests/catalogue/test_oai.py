"""OAI-PMH 2.0 at /oai, harvested with a real harvester (sickle) over HTTP."""

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
