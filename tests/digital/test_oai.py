"""OAI-PMH: a set per digital collection; a record with a digital copy links to its IIIF
manifest in dc:identifier and MARC 856; staff and restricted documents are not shown."""

import xml.etree.ElementTree as ET

from appliance.web import create_app
from tests.digital.conftest import scanned_book
from tests.digital.test_iiif_access import branch  # noqa: F401  (the fixture)

NS = {"o": "http://www.openarchives.org/OAI/2.0/", "dc": "http://purl.org/dc/elements/1.1/",
      "m": "http://www.loc.gov/MARC21/slim"}


def _get(client, **args):
    r = client.get("/oai", query_string=args)
    assert r.status_code == 200
    return ET.fromstring(r.data)


def test_digital_collection_set_and_manifest_links(branch, tmp_path):  # noqa: F811
    public = scanned_book(branch, tmp_path, ocr=False, collection="dia-chi", bib=3)
    hidden = scanned_book(branch, tmp_path, access="restricted", ocr=False,
                          collection="mat", bib=2)
    client = create_app(branch, testing=True).test_client()
    specs = [s.text for s in _get(client, verb="ListSets").iter(f"{{{NS['o']}}}setSpec")]
    assert "digital:dia-chi" in specs and "digital:mat" not in specs
    listed = _get(client, verb="ListRecords", metadataPrefix="oai_dc", set="digital:dia-chi")
    records = listed.findall(".//o:record", NS)
    assert len(records) == 1
    ids = [e.text for e in records[0].findall(".//dc:identifier", NS)]
    assert f"http://localhost/iiif/3/{public}/manifest.json" in ids
    marc = _get(client, verb="GetRecord", metadataPrefix="marcxml",
                identifier=records[0].find(".//o:identifier", NS).text)
    urls = [s.text for f in marc.findall(".//m:datafield[@tag='856']", NS)
            for s in f.findall("m:subfield[@code='u']", NS)]
    assert urls == [f"http://localhost/iiif/3/{public}/manifest.json"]
    assert hidden not in ET.tostring(_get(client, verb="ListRecords",
                                          metadataPrefix="oai_dc")).decode()


def test_openapi_lists_the_digital_routes(branch):  # noqa: F811
    app = create_app(branch, testing=True)
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    documented = {(p, m) for p, ops in spec["paths"].items() for m in ops}
    routes = [r for r in app.url_map.iter_rules()
              if r.rule.startswith("/api/v1/") and r.endpoint.startswith("digital.")]
    assert len(routes) >= 5
    for rule in routes:
        path = rule.rule[len("/api/v1"):].replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)


def test_the_opac_says_plainly_when_a_document_is_only_at_the_hub(branch, tmp_path):  # noqa: F811
    import shutil

    from appliance.core.digital import store
    from tests.sync.syncsupport import set_settings

    doc_id = scanned_book(branch, tmp_path, ocr=False, bib=3)
    client = create_app(branch, testing=True).test_client()
    html = client.get(f"/opac/record/{branch.bibs[3].id}").get_data(as_text=True)
    assert f"/opac/digital/{doc_id}" in html and "2 trang" in html
    # a branch holds the document's metadata but not its masters (they stay at the hub)
    shutil.rmtree(store.root(branch.data_dir) / "masters")
    html = client.get(f"/opac/digital/{doc_id}").get_data(as_text=True)
    assert "Các trang của tài liệu này được lưu tại" in html  # the hub: where they are
    set_settings(branch.data_dir, sync={"hub_url": "https://hub.example.vn"})
    for url in (f"/opac/record/{branch.bibs[3].id}", f"/opac/digital/{doc_id}"):
        html = client.get(url).get_data(as_text=True)
        assert "chỉ xem được tại thư viện số của thư viện thị xã" in html, url
        assert f"https://hub.example.vn/opac/digital/{doc_id}" in html, url
    assert client.get(f"/iiif/image/{doc_id}-0001/info.json").status_code == 404


def test_pages_not_yet_made_are_not_made_in_the_request(branch, tmp_path):  # noqa: F811
    from appliance.core.digital import documents
    from appliance.core.models import DigitalUse

    tif = tmp_path / "b.tif"
    from tests.digital import scans
    scans.save_tiff(tif, [scans.page(["một"]), scans.page(["hai"])])
    doc_id = documents.attach(branch, branch.bibs[0].id, [tif])
    client = create_app(branch, testing=True).test_client()
    r = client.get(f"/iiif/image/{doc_id}-0001/full/max/0/default.jpg")
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "not_ready"
    assert client.get(f"/opac/digital/{doc_id}/download").status_code == 503
    assert not DigitalUse.select().where(DigitalUse.action == "download").exists()
    assert client.get(f"/iiif/image/{doc_id}-0001/info.json").status_code == 200
