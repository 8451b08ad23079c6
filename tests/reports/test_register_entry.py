"""One library of the town's register added and edited on a page at the hub (the whole
register comes as CSV): only hub_admin, in Vietnamese, a mistake said and nothing saved."""

import pytest

from appliance.core import db as dbmod
from appliance.core import users
from appliance.core.context import Context
from appliance.core.reports import town as townmod
from tests.conftest import staff_login
from tests.factories import PASSWORD

PAGE = "/hub/reports/register/entry"


@pytest.fixture
def hub(tmp_path):
    db = dbmod.connect(str(tmp_path / "thuvien.db"))
    ctx = Context.for_db(db, "PY-TT01", origin="hub-device", role="hub",
                         settings={"library_name": "Trung tâm Văn hóa thị xã"})
    from appliance.web import create_app

    app = create_app(ctx, testing=True)
    users.create(ctx, "hub", PASSWORD, "hub_admin")
    users.create(ctx, "baocao", PASSWORD, "report_viewer")
    townmod.save_unit("HHB", "Phường Hòa Hiệp Bắc")
    yield app
    db.close()


def test_a_library_is_added_then_edited_on_its_page(hub):
    client = hub.test_client()
    token = staff_login(client, "hub", landing=PAGE)
    page = client.get(PAGE).get_data(as_text=True)
    assert "Thêm thư viện vào danh bạ" in page and "Phường Hòa Hiệp Bắc" in page
    r = client.post(PAGE, data={"csrf_token": token, "code": "py-hh02",
                                "name": "Thư viện phường", "kind": "public", "unit": "HHB",
                                "key_library": "1", "active": "1"})
    assert r.status_code == 302
    entry = townmod.LibraryEntry.get_by_id("PY-HH02")
    assert (entry.name, entry.unit, entry.key_library, entry.active) == (
        "Thư viện phường", "HHB", True, True)
    dashboard = client.get("/hub/reports").get_data(as_text=True)
    assert "Đã lưu Thư viện phường vào danh bạ." in dashboard
    assert f"{PAGE}?code=PY-HH02" in dashboard  # the row's edit link
    page = client.get(PAGE, query_string={"code": "PY-HH02"}).get_data(as_text=True)
    assert 'value="Thư viện phường"' in page and "<strong>PY-HH02</strong>" in page
    r = client.post(PAGE, data={"csrf_token": token, "code": "PY-HH02",
                                "name": "Thư viện phường Hòa Hiệp Bắc", "kind": "school",
                                "unit": "HHB", "active": "1"})
    assert r.status_code == 302
    entry = townmod.LibraryEntry.get_by_id("PY-HH02")
    assert (entry.name, entry.kind, entry.key_library) == (
        "Thư viện phường Hòa Hiệp Bắc", "school", False)
    assert townmod.LibraryEntry.select().count() == 1


def test_a_mistake_is_said_and_nothing_is_saved(hub):
    client = hub.test_client()
    token = staff_login(client, "hub", landing=PAGE)
    r = client.post(PAGE, data={"csrf_token": token, "code": "PY-X", "name": "Thư viện X",
                                "kind": "museum", "active": "1"})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "Loại hình thư viện không hợp lệ: museum" in page  # said in Vietnamese
    assert 'value="Thư viện X"' in page  # what was typed is kept
    assert townmod.LibraryEntry.select().count() == 0
    assert client.get(PAGE, query_string={"code": "NOPE"}).status_code == 404


def test_report_viewer_may_not_edit_the_register(hub):
    client = hub.test_client()
    token = staff_login(client, "baocao", landing="/hub/reports")
    assert "register/entry" not in client.get("/hub/reports").get_data(as_text=True)
    assert client.get(PAGE).status_code == 403
    r = client.post(PAGE, data={"csrf_token": token, "code": "PY-X", "name": "X"})
    assert r.status_code == 403 and townmod.LibraryEntry.select().count() == 0
