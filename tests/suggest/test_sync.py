"""The model built at a real hub (SQLite and PostgreSQL) from one branch's loans reaches
another branch with sync (and a third on a USB stick), where a lookup is one indexed
read."""

import json
import time

from appliance.cli import main
from appliance.core import policy
from appliance.core.models import Bib
from appliance.core.suggest import store
from sync import agent, suggestions, usb
from tests.suggest import town
from tests.sync.syncsupport import hub_db_fixture, opened, running_town

__all__ = ["hub_db_fixture"]  # the fixture, once per database a hub may use
A, B, C = "PY-DH01", "PY-DH02", "PY-DH03"


def test_the_hub_builds_and_sync_ships_the_model_to_a_branch(tmp_path, hub_db, capsys):
    with running_town(tmp_path, (A, B, C), hub_db, admin=None) as running:
        hub_dir, branches = running.hub_dir, running.branches
        with opened(branches[B]) as ctx:
            policy.save_rule(ctx, B, "*", "*", loan_days=14, max_loans=3, max_renewals=2)
            town.build(ctx)
            agent.run_once(ctx)
        capsys.readouterr()
        assert main(["recommend", "build", "--data", str(branches[A])]) == 1  # not a hub
        assert main(["recommend", "build", "--data", str(hub_dir)]) == 0
        built = json.loads(capsys.readouterr().out)
        assert built["loans"] == 38 and built["patrons_left_out"] == 5
        assert 0 < built["bytes"] < 4096
        with opened(branches[A]) as ctx:
            assert suggestions.have() == 0
            agent.run_once(ctx)
            assert suggestions.have() == built["id"]
            ids = {b.title: b.id for b in Bib.select()}
            shown = store.related(ids["Số đỏ"])
            assert shown[0] == {"bib_id": ids["Tắt đèn"], "title": "Tắt đèn",
                                "why": "borrowed_together"}
            assert store.borrowed_with(ids["Lịch sử Phú Yên"], "adult") == []
            assert store.borrowed_with(ids["Kính vạn hoa 1"], "child") == [ids["Kính vạn hoa 2"]]
            started = time.perf_counter()
            for _ in range(200):
                store.borrowed_with(ids["Số đỏ"], "adult")
            assert (time.perf_counter() - started) / 200 < 0.005
            got = store.suggest_classification("Kính vạn hoa 9", ["Nguyễn Nhật Ánh"])
            assert got["ddc"][0]["ddc"] == "895.9223"
            agent.run_once(ctx)  # nothing newer: the same model stays
            assert suggestions.have() == built["id"]
        with opened(branches[C]) as ctx:
            device = ctx.origin
        with opened(hub_dir) as h:  # a branch with no link: the stick carries it
            usb.export(h, tmp_path / "stick.thuvien", device=device)
        with opened(branches[C]) as ctx:
            assert suggestions.have() == 0
            usb.import_(ctx, tmp_path / "stick.thuvien")
            assert suggestions.have() == built["id"]
        with opened(hub_dir) as h:
            assert suggestions.offer(h, {"suggest": built["id"]}) == {}
            assert suggestions.offer(h, {})  == {}  # a branch that does not ask
            assert suggestions.offer(h, {"suggest": 0})["suggest"]["id"] == built["id"]
