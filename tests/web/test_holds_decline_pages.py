"""The library asked to send a copy for another library's hold says it cannot: at A's
desk (the pull list page lists the holds asked of A, each with a reason to give) and
through the API; in Vietnamese, with a clear refusal when it cannot be done."""

import pytest
import requests

from appliance.core import events, holds, patrons, privacy
from appliance.core.context import Context
from appliance.core.models import Event, Hold
from appliance.web import create_app
from sync.receive import TOWN_WIDE
from tests.conftest import Server, login_token, staff_login
from tests.factories import make_library, seed

A, B = "PY-DH01", "PY-DH02"


def _mine(origin, since=0, kinds=None):
    return [events.to_dict(e) for e in Event.select().where(
        (Event.origin == origin) & (Event.seq > since)).order_by(Event.seq)
        if kinds is None or e.kind in kinds]


@pytest.fixture
def at_a(tmp_path):
    """A's device (seeded: "Số đỏ" is copy 1002) holding two holds of B asked of it."""
    a = make_library(tmp_path / "a")
    bib_id = seed(a)[1].id
    a_dir, a_records = a.data_dir, _mine(a.origin, kinds=TOWN_WIDE)
    a.close()
    b = make_library(tmp_path / "b", library=B, name="Thư viện phường Hòa Vinh")
    events.ingest(b, a_records, relayed=True)
    for card in ("B0001", "B0002"):
        patrons.save(b, {"card": card, "name": "Lê Thị Bích", "category": "adult",
                         "expiry": "2030-12-31"})
        holds.place(b, card, bib_id)
    made = _mine(b.origin)
    b.close()
    a = Context.open(a_dir)
    events.ingest(a, [privacy.for_branch(e, A) for e in made], relayed=True)
    yield a
    a.close()


def test_a_declines_at_its_desk_with_a_reason(at_a):
    client = create_app(at_a, testing=True).test_client()
    token = staff_login(client, landing="/desk/holds/pull")
    page = client.get("/desk/holds/pull").get_data(as_text=True)
    assert "Thư viện khác nhờ gửi sách" in page and 'id="asked-list"' in page
    assert "B0001" in page and "Thư viện phường Hòa Vinh" in page
    assert "Lê Thị Bích" not in page, "the card number only, as on the pull list"
    first = holds.asked_of(A)[0]
    r = client.post(f"/desk/holds/{first.id}/decline", data={"csrf_token": token,
                                                             "reason": "  "},
                    follow_redirects=True)
    assert "Hãy ghi lý do không đáp ứng được lượt đặt trước." in r.get_data(as_text=True)
    r = client.post(f"/desk/holds/{first.id}/decline",
                    data={"csrf_token": token, "reason": "Không có trên giá như mục lục ghi"},
                    follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "Đã báo cho Thư viện phường Hòa Vinh" in page
    assert Hold.get_by_id(first.id).declined == "Không có trên giá như mục lục ghi"
    assert [h.id for h in holds.asked_of(A)] != [first.id] and len(holds.asked_of(A)) == 1
    r = client.post(f"/desk/holds/{first.id}/decline",
                    data={"csrf_token": token, "reason": "Hỏng"}, follow_redirects=True)
    assert "Thư viện này đã báo không đáp ứng được lượt đặt trước này." in r.get_data(
        as_text=True)
    [made] = [e for e in _mine(at_a.origin) if e["kind"] == "hold.declined"]
    assert made["library"] == B and made["body"]["actor"] == "thuthu"


def test_a_declines_through_the_api(at_a):
    with Server(create_app(at_a, testing=True)) as server:
        auth = login_token(server.url)
        asked = requests.get(f"{server.url}/api/v1/holds/asked", headers=auth, timeout=10)
        assert asked.status_code == 200
        rows = asked.json()
        assert [r["patron"] for r in rows] == ["B0001", "B0002"]
        assert rows[0]["library"] == B and rows[0]["title"] == "Số đỏ"
        url = f"{server.url}/api/v1/holds/{rows[0]['hold_id']}/decline"
        missing = requests.post(url, json={}, headers=auth, timeout=10)
        assert missing.status_code == 400
        done = requests.post(url, json={"reason": "Sách hỏng"}, headers=auth, timeout=10)
        assert done.status_code == 200 and done.json()["declined"] == "Sách hỏng"
        again = requests.post(url, json={"reason": "Sách hỏng"}, headers=auth, timeout=10)
        assert again.status_code == 409 and again.json()["error"]["code"] == "hold_declined"
        left = requests.get(f"{server.url}/api/v1/holds/asked", headers=auth, timeout=10)
        assert [r["patron"] for r in left.json()] == ["B0002"]
