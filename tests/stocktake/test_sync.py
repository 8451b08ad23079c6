"""A stocktake across two devices of one library and the town's hub (a real hub process,
on SQLite and on PostgreSQL): started at one desk, scanned at both, a copy seen at both
counted once, finished; the hub holds it, verifies it, and shows it read-only."""

import re

from appliance.core import users
from appliance.core.models import StocktakeSeen
from appliance.core.stocktake import commands, result
from appliance.core.verify import verify
from appliance.web import create_app
from sync import agent, enrol
from tests.factories import PASSWORD
from tests.stocktake.records import xlsx_rows
from tests.sync.syncsupport import (  # noqa: F401  (hub_db: the fixture)
    HubProcess,
    enrol_all,
    hub_db_fixture,
    init,
    make_town,
    opened,
    seed,
)

LIB = "PY-DH01"


def test_two_devices_one_stocktake_the_hub_shows_it(tmp_path, hub_db):
    hub_dir, branches, tokens = make_town(tmp_path, (LIB,), hub_db=hub_db)
    second = init(tmp_path / "desk2", LIB)
    with opened(hub_dir) as h:
        second_token = enrol.create_token(h, LIB)
        users.create(h, "town", PASSWORD, "hub_admin")
    with HubProcess(hub_dir) as hub:
        enrol_all(hub.url, branches, tokens)
        enrol_all(hub.url, {LIB: second}, {LIB: second_token})
        with opened(branches[LIB]) as one:
            _, codes = seed(one, n_items=4, n_patrons=1)
            st_id = commands.start(one, actor="an").id
            commands.scan(one, st_id, codes[:2], actor="an")
            agent.run_once(one, url=hub.url)
        with opened(second) as two:
            agent.run_once(two, url=hub.url)
            answers = commands.scan(two, st_id, [codes[1], codes[2]], actor="binh")
            assert [a["again"] for a in answers] == [True, False]
            agent.run_once(two, url=hub.url)
        with opened(branches[LIB]) as one:
            agent.run_once(one, url=hub.url)
            assert StocktakeSeen.select().count() == 3
            st = commands.finish(one, st_id, actor="an")
            assert [e["barcode"] for e in result.of(st)["missing"]] == [codes[3]]
            agent.run_once(one, url=hub.url)
        with opened(hub_dir) as h:
            assert verify(h) == []
            st = commands.get(h, st_id)
            assert (st.library, st.finished_by) == (LIB, "an")
            assert {r.actor for r in StocktakeSeen.select()} == {"an", "binh"}
            client = create_app(h, testing=True).test_client()
            token = re.search(r'name="csrf_token" value="([^"]+)"',
                              client.get("/login").text).group(1)
            client.post("/login", data={"username": "town", "password": PASSWORD,
                                        "csrf_token": token})
            listed = client.get(f"/desk/stocktake/?library={LIB}").text
            assert f"/desk/stocktake/{st_id}" in listed and "đã kết thúc" in listed
            shown = client.get(f"/desk/stocktake/{st_id}").text
            assert 'id="c-missing">1<' in shown
            assert 'id="mark-lost"' not in shown and 'id="scan-form"' not in shown
            record = client.get(f"/desk/stocktake/{st_id}/record.xlsx")
            assert ("BIÊN BẢN KIỂM KÊ",) in xlsx_rows(record.data)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', listed)
            refused = client.post("/desk/stocktake/start", data={
                "csrf_token": csrf.group(1) if csrf else ""}, follow_redirects=True)
            assert "chỉ hiển thị kết quả" in refused.text
