"""Training records: who counts as trained, what a device may record, certificates."""

from datetime import date, timedelta

import pytest

from appliance.core import authority
from appliance.core.errors import Forbidden, Invalid
from appliance.core.models import User
from appliance.core.training import certificates, exercises, records


def _staff(ctx, *names):
    for name in names:
        User.create(username=name, password_hash="-", role="librarian", library=ctx.library)


def test_trained_by_core_exercises_or_a_recent_course(ctx):
    _staff(ctx, "an", "binh", "cuong", "dung")
    User.update(active=False).where(User.username == "dung").execute()
    records.list_staff(ctx)
    for code in exercises.CORE:
        records.exercise_done(ctx, "an", code, "", 60)
    for code in exercises.CORE[:-1]:  # one core exercise short
        records.exercise_done(ctx, "binh", code, "", 60)
    today = ctx.clock.today()
    records.add_course(ctx, None, "cuong", "Khóa cũ", "Sở", (today - timedelta(days=800))
                       .isoformat(), 8)
    status = records.status(exercises.CORE, today=today)[ctx.library]
    assert "dung" not in status["staff"]  # disabled: not counted
    assert status["trained"] == ["an"]
    assert set(status["untrained"]) == {"binh", "cuong", "hub", "quanly", "thuthu"}
    recent = records.add_course(ctx, None, "cuong", "Khóa mới", "Sở",
                                (today - timedelta(days=30)).isoformat(), 8)
    assert records.status(exercises.CORE, today=today)[ctx.library]["trained"] == [
        "an", "cuong"]
    records.remove_course(ctx, recent.id)
    assert records.town_counts(exercises.CORE, today=today) == (1, 6)


def test_no_staff_list_is_no_data(ctx):
    assert records.town_counts(exercises.CORE) == (None, None)


def test_course_input_is_checked(ctx):
    with pytest.raises(Invalid):
        records.add_course(ctx, None, "an", "", "Sở", "2026-01-01", 8)
    with pytest.raises(Invalid):
        records.add_course(ctx, None, "an", "Khóa", "Sở", "01/02/2026", 8)
    with pytest.raises(Invalid):
        records.add_course(ctx, None, "an", "Khóa", "Sở", "2026-01-01", "0")
    with pytest.raises(Invalid):
        records.add_course(ctx, None, "an", "Khóa", "Sở",
                           (date.today() + timedelta(days=30)).isoformat(), 8)
    with pytest.raises(Forbidden):  # a branch enters its own staff only
        records.add_course(ctx, "PY-XX09", "an", "Khóa", "Sở", "2026-01-01", 8)


def test_authority_own_library_only():
    body = {"library": "PY-A", "staff": "an"}
    ok = {"kind": "training.course", "library": "PY-A", "body": body}
    assert authority.check(ok, "PY-A", lambda *a: None) is None
    assert authority.check(ok, "PY-B", lambda *a: None).code == "other_library"
    assert authority.check(dict(ok, library="PY-B"), "PY-A",
                           lambda *a: None).code == "library_mismatch"
    step = {"kind": "training.step", "library": "PY-A", "body": {"step": "x"}}
    assert authority.check(step, "PY-A", lambda *a: None).code == "practice_only"


def test_certificates_are_kept_by_content(tmp_path):
    pdf = b"%PDF-1.7\nxx"
    one = certificates.store(tmp_path, pdf, "a.pdf")
    two = certificates.store(tmp_path, pdf, "b.pdf")
    assert one["sha256"] == two["sha256"] and one["type"] == "application/pdf"
    assert certificates.path_of(tmp_path, one).read_bytes() == pdf
    assert certificates.store(tmp_path, b"\xff\xd8\xff\xe0jpeg", "x.jpg")["type"] == \
        "image/jpeg"
    with pytest.raises(Invalid):
        certificates.store(tmp_path, b"GIF89a", "x.gif")
    with pytest.raises(Invalid):
        certificates.store(tmp_path, b"%PDF-" + b"0" * certificates.MAX_BYTES, "big.pdf")


def test_housekeeping_records_the_staff_list_when_accounts_change(ctx):
    """The town's training indicator counts from each library's staff list: it follows
    the accounts without anyone opening the training pages."""
    from appliance import maintenance
    from appliance.core.models import Event, TrainingRoster

    def listed():
        return [s["username"] for s in TrainingRoster.get(
            TrainingRoster.library == ctx.library).staff]

    maintenance.run_once(ctx)
    assert "an" not in listed()
    _staff(ctx, "an")
    maintenance.run_once(ctx)
    assert "an" in listed()
    count = Event.select().where(Event.kind == "training.staff").count()
    maintenance.run_once(ctx)  # nothing changed: nothing recorded
    assert Event.select().where(Event.kind == "training.staff").count() == count
    User.update(active=False).where(User.username == "an").execute()
    maintenance.run_once(ctx)
    assert "an" not in listed()


def test_no_staff_list_is_recorded_before_any_account_exists(ctx):
    from appliance.core.models import Event
    User.delete().execute()
    assert not records.list_staff(ctx)
    assert not Event.select().where(Event.kind == "training.staff").exists()
