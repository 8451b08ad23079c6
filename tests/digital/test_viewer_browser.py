"""The OPAC's viewer in real Chromium, on a cheap phone's width and on the desk's:
pages, zoom, thumbnails, go to a page, search inside with hits marked, download."""

from appliance.core.digital import documents
from appliance.web import create_app
from tests.conftest import Server
from tests.digital.conftest import scanned_book
from tests.digital.test_iiif_access import branch  # noqa: F401  (the fixture)


def test_viewer_at_360_and_1280(branch, tmp_path, page):  # noqa: F811
    doc_id = scanned_book(branch, tmp_path)
    with Server(create_app(branch, testing=True)) as srv:
        for width in (360, 1280):
            page.set_viewport_size({"width": width, "height": 800})
            page.goto(f"{srv.url}/opac/digital/{doc_id}")
            page.wait_for_function("document.getElementById('dv-img').naturalWidth > 0")
            # nothing wider than the screen: the page pans inside its stage only
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            assert page.locator("#dv-strip img").count() == 2
            assert page.locator("#dv-download").count() == 1
            before = page.evaluate("document.getElementById('dv-page').offsetWidth")
            page.click("#dv-in")
            assert page.evaluate("document.getElementById('dv-page').offsetWidth") > before
            page.click("#dv-out")
            page.click("#dv-next")
            assert page.input_value("#dv-go") == "2"
            page.fill("#dv-go", "1")
            page.dispatch_event("#dv-go", "change")
            assert page.locator("#dv-strip a[aria-current=page]").get_attribute("data-n") == "1"
            page.fill("#dv-q", "lich su dong hoa")
            page.press("#dv-q", "Enter")
            page.wait_for_selector("#dv-hits mark")
            assert "Đông" in page.locator("#dv-hits mark").all_inner_texts()
            page.wait_for_selector(".dv-hit")  # the hit went to page 2, marked on it
            assert page.input_value("#dv-go") == "2"
            page.screenshot(path=str(tmp_path / f"viewer-{width}.png"))


def test_desk_uploads_several_files_in_page_order(branch, tmp_path, page):  # noqa: F811
    from tests.conftest import PASSWORD
    from tests.digital import scans

    files = []
    for n in (10, 2, 1):  # chosen in any order: the list puts p1, p2, p10
        path = tmp_path / f"p{n}.png"
        scans.page([f"Trang {n}"]).save(path)
        files.append(str(path))
    bib = branch.bibs[3]
    with Server(create_app(branch, testing=True)) as srv:
        page.goto(f"{srv.url}/desk/digital/{bib.id}")
        page.fill("#username", "thuthu")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"**/desk/digital/{bib.id}")
        page.set_input_files("#du-files", files)
        assert page.locator("#du-list li").all_inner_texts()[0].startswith("p1.png")
        page.select_option("#du-access", "patrons")
        page.click("#du button[type=submit]")
        page.wait_for_selector("#du-status a")
        assert page.evaluate("document.getElementById('du-progress').value") == 100
    doc = documents.of_bib(bib.id)[0]
    assert (doc.access, doc.page_count) == ("patrons", 3)
    sizes = [p.size for p in documents.page_list(doc.id)]
    assert sizes == [(tmp_path / f"p{n}.png").stat().st_size for n in (1, 2, 10)]
