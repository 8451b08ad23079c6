"""The OPAC's viewer in real Chromium, on a cheap phone's width and on the desk's:
pages, zoom, thumbnails, go to a page, search inside with hits marked, download."""

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
