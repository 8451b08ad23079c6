"""Training records travel through a real hub process (SQLite and PostgreSQL): a branch's
staff list and exercises, a course the hub's admin enters for another library's staff;
the hub counts who is trained and lists who is not; a practice copy never syncs; a
branch may not record another library's staff."""

import pytest

from appliance.core import circulation, events
from appliance.core.authority import Quarantine
from appliance.core.models import Event, TrainingCourse, TrainingRoster, User
from appliance.core.training import certificates, exercises, practice, records
from appliance.core.verify import verify
from appliance.web import create_app
from sync import agent, protocol
from tests.conftest import staff_login
from tests.sync.syncsupport import (  # noqa: F401  (hub_db: the fixture)
    hub_db_fixture,
    opened,
    running_town,
    seed,
)

A, B = "PY-DH01", "PY-HH02"
PDF = b"%PDF-1.4\n% chung nhan\n%%EOF\n"


def _staff(ctx, *names):
    for name in names:
        User.create(username=name, password_hash="-", role="librarian", library=ctx.library)


def test_training_records_reach_the_hub_and_count(tmp_path, hub_db):
    with running_town(tmp_path, (A, B), hub_db) as running:
        hub, hub_dir, branches = running.hub, running.hub_dir, running.branches
        with opened(branches[A]) as a:
            _, codes = seed(a, n_items=2, n_patrons=1)
            _staff(a, "an", "binh")
            assert records.list_staff(a) and not records.list_staff(a)  # once, until it changes
            for code in exercises.CORE:
                records.exercise_done(a, "an", code, a.clock.iso_now(), 300)
            # a practice copy's work stays in it, and the copy itself never syncs
            pc = practice.open_copy(a, "an")
            with practice.bound(pc.db):
                circulation.checkout(pc, _card(), codes[0])
            with pytest.raises(protocol.SyncError):
                agent.run_once(pc, url=hub.url)
            pc.close()
            # an event for another library's staff: the hub keeps it out
            events.record(a, "training.course", {
                "id": "0190aaaa-0000-7000-8000-000000000001", "library": B, "staff": "cuong",
                "name": "Giả", "organiser": "Giả", "day": "2026-01-01", "hours": 1},
                library=B)
            agent.run_once(a, url=hub.url)
        with opened(branches[B]) as b:
            _staff(b, "cuong")
            records.list_staff(b)
            agent.run_once(b, url=hub.url)
        with opened(hub_dir) as h:
            cert = certificates.store(h.data_dir, PDF, "chung-nhan.pdf")
            records.add_course(h, B, "cuong", "Nghiệp vụ thư viện hiện đại",
                               "Thư viện tỉnh", h.clock.today().isoformat(), 24, cert,
                               actor="town")
            assert verify(h) == []
            assert not Event.select().where(Event.kind == "loan.out").exists()
            assert [q.kind for q in Quarantine.select()] == ["training.course"]
            status = records.status(exercises.CORE)
            assert status[A] == {"staff": ["an", "binh"], "trained": ["an"],
                                 "untrained": ["binh"]}
            assert status[B]["trained"] == ["cuong"]
            client = create_app(h, testing=True).test_client()
            staff_login(client, "town", landing="/hub/reports")
            trained = {i["name"]: i for i in client.get(
                "/api/v1/reports/indicators").get_json()["indicators"]}["trained"]
            assert (trained["numerator"], trained["denominator"], trained["value"]) == (
                2, 3, 66.7)
            assert trained["libraries"][A]["untrained"] == ["binh"]
            page = client.get("/hub/reports").get_data(as_text=True)
            assert 'data-trained-library="PY-DH01"' in page and "binh" in page
        with opened(branches[B]) as b:
            agent.run_once(b, url=hub.url)
            course = TrainingCourse.get()
            assert (course.staff, course.entered_by, course.certificate["sha256"]) == (
                "cuong", "town", cert["sha256"])
            assert TrainingRoster.get_by_id(B).staff == [{"username": "cuong",
                                                          "role": "librarian"}]
            assert verify(b) == []


def _card():
    from appliance.core.models import Patron
    return Patron.select().first().card
