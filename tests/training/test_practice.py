"""The practice copy: made-up people, everything works in it, the real library untouched."""

import threading

from appliance.core import circulation, patrons, verify
from appliance.core.models import Event, Loan, Patron, database_proxy
from appliance.core.training import exercises, practice
from tests.factories import loans_fall_due_today

REAL_NAMES = {"Nguyễn Văn An", "Trần Thị Bình", "Phạm Gia Huy", "Hoàng Thị Lan"}


def test_copy_has_made_up_people_and_verifies(ctx):
    real = verify.digest()
    pc = practice.open_copy(ctx, "thuthu")
    try:
        assert practice.is_practice(pc) and not practice.is_practice(ctx)
        with practice.bound(pc.db):
            people = {p.card: p for p in Patron.select()}
            assert set(people) == {"P0001", "P0002", "C0001", "S0001"}  # cards kept
            assert not REAL_NAMES & {p.name for p in people.values()}
            assert people["C0001"].guardian and people["C0001"].guardian != "Phạm Văn Đức"
            assert all(len(p.name.split()) >= 3 for p in people.values())
            assert not any("Nguyễn Văn An" in ev.body for ev in Event.select())
            assert verify.state_matches_rebuild(pc) == []
            assert patrons.verify_pin(pc, "P0001", practice.PRACTICE_PIN)
        # the copy is this thread's only: another thread sees the real library
        seen = []
        with practice.bound(pc.db):
            t = threading.Thread(target=lambda: seen.append(
                Patron.get(Patron.card == "P0001").name))
            t.start()
            t.join()
        assert seen == ["Nguyễn Văn An"]
        assert database_proxy.thread_bound() is None
    finally:
        pc.close()
    assert verify.digest() == real


def test_real_digest_unchanged_by_practice_work(ctx):
    real, log = verify.digest(), Event.select().count()
    pc = practice.open_copy(ctx, "thuthu")
    try:
        with practice.bound(pc.db):
            circulation.checkout(pc, "P0001", "1001")
            circulation.checkin(pc, "1001")
            patrons.save(pc, {"card": "P0100", "name": "Người Thử", "category": "adult"})
            assert Patron.select().count() == 5
    finally:
        pc.close()
    assert verify.digest() == real and Event.select().count() == log
    assert Patron.select().count() == 4


def _run(pc, code, steps):
    with practice.bound(pc.db):
        exercises.start(pc, code)
        for step in steps:
            step()
        return exercises.progress(code, "thuthu"), exercises.check(pc, code, "thuthu")


def test_checkout_return_done_only_when_returned(ctx):
    pc = practice.open_copy(ctx, "thuthu")
    try:
        steps, done = _run(pc, "checkout_return",
                           [lambda: circulation.checkout(pc, "P0001", "1001")])
        assert [d for _, d in steps] == [True, False] and done is None
        with practice.bound(pc.db):
            circulation.checkin(pc, "1001")
            assert all(d for _, d in exercises.progress("checkout_return", "thuthu"))
            done = exercises.check(pc, "checkout_return", "thuthu")
            assert done and done["seconds"] >= 0
            assert exercises.check(pc, "checkout_return", "thuthu") is None  # once
    finally:
        pc.close()


def test_work_before_the_start_does_not_count(ctx):
    pc = practice.open_copy(ctx, "thuthu")
    try:
        with practice.bound(pc.db):
            circulation.checkout(pc, "P0001", "1002")
        steps, done = _run(pc, "renew", [])
        assert steps == [(exercises.get("renew").steps[0].text, False)] and done is None
        with practice.bound(pc.db):
            loans_fall_due_today(pc, "1002")
            circulation.renew(pc, "1002")
            assert exercises.check(pc, "renew", "thuthu")
    finally:
        pc.close()


def test_a_copy_of_an_older_schema_is_made_again(ctx):
    from appliance.core.models import Setting

    pc = practice.open_copy(ctx, "thuthu")
    with practice.bound(pc.db):
        circulation.checkout(pc, "P0001", "1001")
        Setting.update(value=1).where(Setting.key == "schema_version").execute()
    pc.close()
    pc = practice.open_copy(ctx, "thuthu")
    try:
        with practice.bound(pc.db):
            assert Loan.select().count() == 0
    finally:
        pc.close()


def test_what_other_parts_keep_of_people_is_made_up_too(ctx):
    """Sealed card fields (core/rights) are opened and made up, a postal request's address
    is nobody's, and no e-mail waiting to go comes along."""
    from appliance.core.models import NoticeMail, RemoteRequest
    from appliance.core.requests import commands as requests

    patron = patrons.find(ctx, "P0001")
    patrons.save(ctx, {"id": patron.id, "birth_date": "2012-05-17", "school_class": "6A"})
    requests.place(ctx, patron, "postal_loan", bib_id=ctx.bibs[1].id,
                   address="12 Trần Hưng Đạo, phường 1, Tuy Hòa")
    NoticeMail.create(key="k", kind="overdue", patron=patron.id, ref="x",
                      recipient="an@example.vn", subject="Sách quá hạn", body="Nguyễn Văn An")
    pc = practice.open_copy(ctx, "thuthu")
    try:
        with practice.bound(pc.db):
            copy = Patron.get(Patron.card == "P0001")
            assert (copy.birth_date, copy.school_class) == ("2012-01-01", "6A")
            assert RemoteRequest.get().address.endswith("Tuy Hòa")
            log = "".join(ev.body for ev in Event.select())
            assert "Trần Hưng Đạo" not in log and "Trần Hưng Đạo" not in RemoteRequest.get(
                ).address
            assert NoticeMail.select().count() == 0
            assert verify.state_matches_rebuild(pc) == []
    finally:
        pc.close()


def test_the_worker_finds_the_copies_with_digital_jobs_and_a_copy_made_again_drops_its_own(
        ctx, tmp_path):
    """The digital worker's view of the copies (practice.Copies): a copy with jobs queued
    is listed, one of an older schema is not (it will be made again), and a copy made
    again is another context, so a job of the old one is never worked into it."""
    from appliance.core.digital import documents
    from appliance.core.models import DigitalJob, Setting
    from tests.digital import scans

    copies = practice.Copies(ctx)
    pc = copies.get("thuthu")
    assert practice.queued_owners(ctx) == []
    tif = scans.save_tiff(tmp_path / "p.tif", [scans.page(["Trang"])])
    with practice.bound(pc.db):
        documents.attach(pc, ctx.bibs[0].id, [tif])
        assert DigitalJob.select().count() == 2
    assert DigitalJob.select().count() == 0  # the real queue: empty
    assert practice.queued_owners(ctx) == ["thuthu"]
    assert copies.with_jobs() == [pc] and copies.current("thuthu") is pc
    fresh = copies.get("thuthu", fresh=True)
    assert fresh is not pc and copies.current("thuthu") is fresh
    assert practice.queued_owners(ctx) == []  # made from the real library: no jobs
    with practice.bound(fresh.db):
        documents.attach(fresh, ctx.bibs[0].id, [tif])
        Setting.update(value=1).where(Setting.key == "schema_version").execute()
    assert practice.queued_owners(ctx) == []
    copies.drop("thuthu")
    assert copies.current("thuthu") is None


def test_a_copy_made_while_a_real_job_ran_works_it_in_its_own_folder(ctx, tmp_path):
    """A copy made while the real worker was in a job holds it as running: the worker
    puts it back in the copy's queue and works it there, the real one left as it is."""
    from appliance.core.digital import documents, jobs, store
    from appliance.core.models import DigitalJob, DigitalPage
    from tests.digital import scans

    tif = scans.save_tiff(tmp_path / "p.tif", [scans.page(["Trang"])])
    documents.attach(ctx, ctx.bibs[0].id, [tif])
    DigitalJob.delete().where(DigitalJob.kind == "ocr").execute()
    DigitalJob.update(state="running").execute()  # the real worker, mid-job
    page = DigitalPage.get()
    copies = practice.Copies(ctx)
    pc = copies.get("thuthu")
    worker = jobs.Worker(ctx, copies=copies)
    while worker._practice_round():
        pass
    with practice.bound(pc.db):
        assert DigitalJob.select().count() == 0
    assert store.derived(pc.files, page.id, "web.jpg") == pc.files.own(
        "digital", "derived", page.id, "web.jpg")
    assert store.derived(pc.files, page.id, "web.jpg").exists()
    assert not store.derived(ctx.files, page.id, "web.jpg").exists()
    assert [j.state for j in DigitalJob.select()] == ["running"]
    copies.drop("thuthu")
