"""Notices by e-mail: what is due, to whom (never a child's own address), in which
words, and sent to a real SMTP server on loopback exactly once, a link down or a sender
killed half-way included."""

import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import pytest

from appliance import mail
from appliance.core import patrons
from appliance.core.errors import Invalid
from appliance.core.models import Event, NoticeMail
from appliance.core.notices import due, mailconf, outbox, routing, texts
from tests.factories import self_signed
from tests.notices_world import Inbox, make_world

NAME = "Thư viện phường Hòa Hiệp Trung"


@pytest.fixture
def world(ctx):
    ctx.late = make_world(ctx)
    return ctx


@pytest.fixture
def inbox():
    box = Inbox().start()
    yield box
    box.stop()


def test_what_is_due_and_where_each_notice_may_go(world):
    found = {(n.kind, n.patron.card) for n in due.now_due(world)}
    assert found == {("hold_ready", "P0001"), ("overdue", "P0001"), ("overdue", "C0001"),
                     ("overdue", "P0002")}
    today = world.clock.today()
    routes = {n.patron.card: routing.route(n.patron, today) for n in due.now_due(world)}
    assert routes["P0001"].address == "an@example.vn"
    assert routes["C0001"].address == "duc.phuhuynh@example.vn" and routes["C0001"].guardian
    assert routes["C0001"].to_name == "Phạm Văn Đức"
    assert routes["P0002"].address is None and routes["P0002"].why == "no_address"


def test_a_child_by_age_or_category_and_never_the_childs_own_address(world):
    today = date(2026, 12, 1)
    adult = patrons.find(world, "P0001")
    assert not routing.is_child(adult, today, 16)
    adult.birth_date = "2012-06-01"  # 14 years old: a child whatever the category says
    assert routing.is_child(adult, today, 16)
    assert routing.route(adult, today, 16).address is None  # no guardian's address: a slip
    adult.birth_date, adult.birth_year = None, 2010  # 16 or still 15 this year: a child
    assert routing.is_child(adult, today, 16)
    adult.birth_year = 2009
    assert not routing.is_child(adult, today, 16)
    child = patrons.find(world, "C0001")
    child.guardian_email = None
    assert routing.route(child, today, 16).address is None  # not huy.con@example.vn


def test_texts_refuse_unknown_placeholders_and_render_vietnamese(world):
    for bad in ("Xin chào {ten}", "{name.__class__}", "Mở {ngoặc", "{name!r}", "{}"):
        with pytest.raises(Invalid):
            texts.check(bad)
    texts.save({("vi", "overdue", "subject"): "Nhắc trả sách: {title} — {name}"})
    notice = next(n for n in due.now_due(world) if n.patron.card == "C0001")
    route = routing.route(notice.patron, world.clock.today())
    subject, body = texts.render("overdue", texts.values_of(
        notice, route, NAME, world.clock.today()))
    assert subject == "Nhắc trả sách: Dế Mèn phiêu lưu ký — Phạm Gia Huy"
    assert "Kính gửi Phạm Văn Đức" in body and "(5 ngày)" in body
    texts.save({("vi", "overdue", "subject"): ""})  # empty: the default again
    assert texts.get("overdue", "vi")["subject"] == texts.DEFAULTS["vi"]["overdue"]["subject"]


def test_the_password_is_never_shown_back(ctx):
    mailconf.save({"host": "smtp.example.vn", "tls": "starttls", "user": "tv",
                   "password": "bi-mat-lam", "from_address": "tv@example.vn",
                   "enabled": True})
    assert "bi-mat-lam" not in repr(mailconf.shown()) and mailconf.shown()["has_password"]
    mailconf.save({"host": "smtp.example.vn", "tls": "ssl", "from_address": "tv@example.vn"})
    assert mailconf.read()["password"] == "bi-mat-lam" and mailconf.read()["port"] == 465
    with pytest.raises(Invalid):
        mailconf.save({"host": "smtp.example.vn", "tls": "tls2", "from_address": "x"})


def test_notices_reach_a_real_server_once_in_utf8_and_a_child_only_through_the_guardian(
        world, inbox):
    inbox.configure()
    events_before = Event.select().count()
    first = mail.run_round(world)
    assert first["new"] == 3 and first["sent"] == 3
    assert Event.select().count() == events_before  # the queue is local: nothing to sync
    to = sorted(rcpt for _, rcpts in inbox.envelopes for rcpt in rcpts)
    assert to == ["an@example.vn", "an@example.vn", "duc.phuhuynh@example.vn"]
    child = next(m for m in inbox.messages if "duc.phuhuynh" in m["To"])
    assert child["Subject"] == "Sách quá hạn trả: Dế Mèn phiêu lưu ký"
    assert child.get_content_charset() == "utf-8"
    body = child.get_content()
    assert "Kính gửi Phạm Văn Đức" in body and "bạn đọc Phạm Gia Huy (thẻ C0001)" in body
    assert "huy.con@example.vn" not in str(inbox.envelopes)
    ready = next(m for m in inbox.messages if m["Subject"].startswith("Sách bạn đặt"))
    assert "Truyện Kiều" in ready["Subject"] and "Xin mời đến nhận" in ready.get_content()
    again = mail.run_round(world)
    assert again["new"] == 0 and again["sent"] == 0 and len(inbox.messages) == 3
    assert outbox.counts()["sent"] == 3


def test_with_the_server_down_notices_wait_and_go_when_it_is_up(world):
    box = Inbox()
    box.configure()  # its port: nothing listens there yet
    result = mail.run_round(world)
    assert result["queued"] == 1 and result["sent"] == 0
    rows = list(NoticeMail.select())
    assert len(rows) == 3 and {r.state for r in rows} == {"queued"}
    tried = next(r for r in rows if r.attempts)
    assert "Connection refused" in tried.error and tried.next_try > time.time() + 30
    assert mail.send_queued(world)["sent"] == 0  # the others wait their turn too
    box.start()
    try:
        NoticeMail.update(next_try=0).execute()  # the wait has passed
        assert mail.send_queued(world)["sent"] == 3
        assert len(box.messages) == 3
    finally:
        box.stop()


def test_a_refusal_fails_with_the_servers_words_and_staff_may_send_again(world, inbox):
    inbox.configure()
    inbox.refuse = "550 5.1.1 Hộp thư không tồn tại"
    mail.run_round(world)
    rows = list(NoticeMail.select())
    assert {r.state for r in rows} == {"failed"} and not inbox.messages
    assert rows[0].error.startswith("550") and "5.1.1" in rows[0].error
    inbox.refuse = None
    assert outbox.release(rows[0].key) == 1
    assert mail.send_queued(world)["sent"] == 1 and len(inbox.messages) == 1


def test_a_notice_no_longer_due_is_dropped_not_sent(world, inbox):
    inbox.configure()
    outbox.queue_due(world, NAME)
    from appliance.core import circulation
    circulation.checkin(world, "1003")  # the child's copy came back meanwhile
    result = mail.send_queued(world)
    assert result == {**result, "sent": 2, "dropped": 1}
    assert "duc.phuhuynh@example.vn" not in str(inbox.envelopes)


def test_a_sender_killed_after_the_server_took_the_message_never_sends_it_again(
        world, inbox, data_dir):
    inbox.configure()
    outbox.queue_due(world, NAME)
    inbox.hang = True  # the server holds its reply to the first message
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; from appliance import mail; "
         "from appliance.core.context import Context; "
         "mail.send_queued(Context.open(sys.argv[1]))", str(data_dir)],
        env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert inbox.arrived.wait(30), "the sender never handed a message over"
        child.send_signal(signal.SIGKILL)  # after the server has it, before "sent"
        child.wait(10)
    finally:
        child.kill()
    inbox.hang = False
    inbox.release.set()
    taken = NoticeMail.get(NoticeMail.state == "sending")
    assert mail.send_queued(world)["sent"] == 2  # the others go; that one does not
    assert len(inbox.messages) == 3
    assert outbox.settle_stale(time.time() + outbox.STALE + 1) == 1
    assert NoticeMail.get_by_id(taken.key).state == "unsure"
    assert mail.send_queued(world)["sent"] == 0 and len(inbox.messages) == 3
    subjects = [m["Subject"] for m in inbox.messages]
    assert len(set(subjects)) == 3, subjects


def test_a_copy_ready_is_e_mailed_in_the_patrons_language_and_dropped_once_downloaded(
        world, inbox, tmp_path):
    from appliance.core.requests import commands
    from tests.requests.conftest import make_pdf

    inbox.configure(enabled=False)
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(make_pdf())
    patron = patrons.find(world, "P0001")
    asked = []
    for lang in ("en", "vi"):
        req = commands.place(world, patron, "copy", bib_id=world.bibs[2].id, pages="1",
                             purpose="học tập", copyright_ok=True, lang=lang)
        commands.accept(world, req.id)
        asked.append(commands.attach(world, req.id, pdf))
    ready = due.copies_ready(world)
    assert [(n.kind, n.ref, n.lang) for n in ready] == [
        ("copy_ready", r.id, lang) for r, lang in zip(asked, ("en", "vi"), strict=True)]
    assert ready[0].key == f"copy_ready|{patron.id}|{asked[0].id}|{asked[0].expires_at[:10]}"
    assert outbox.queue_due(world, NAME) == 3 + 2  # the hold, the two overdue, the copies
    commands.delivered(world, asked[1])  # downloaded before the e-mail went
    inbox.configure()
    result = mail.send_queued(world)
    assert result == {**result, "sent": 4, "dropped": 1}
    subjects = [m["Subject"] for m in inbox.messages]
    assert f"Your copy is ready: {world.bibs[2].title}" in subjects, subjects
    assert not [s for s in subjects if s.startswith("Bản sao")]
    assert due.copies_ready(world) == [ready[0]] and outbox.queue_due(world, NAME) == 0


def test_old_addresses_are_forgotten_but_the_notice_stays_sent(world, inbox):
    inbox.configure()
    mail.run_round(world)
    assert outbox.forget(time.time() + (outbox.FORGET_DAYS + 1) * 86400) == 3
    assert {r.recipient for r in NoticeMail.select()} == {""}
    assert mail.run_round(world)["new"] == 0 and len(inbox.messages) == 3


def test_due_soon_and_ready_for_the_patron(world):
    from appliance.core.models import Loan
    loan = Loan.get(Loan.returned_at.is_null() & (Loan.patron == patrons.find(world, "P0001").id))
    Loan.update(due_date=(world.clock.today() + timedelta(days=2)).isoformat()).where(
        Loan.id == loan.id).execute()
    kinds = sorted(n.kind for n in due.for_patron(world, patrons.find(world, "P0001")))
    assert kinds == ["due_soon", "hold_ready"]


@pytest.mark.postgres
def test_the_queue_on_postgresql_sends_once(tmp_path, inbox):
    from appliance.core import datadir
    from tests.factories import seed
    from tests.sync.syncsupport import hub_database

    with hub_database("postgresql") as url:
        pg = datadir.init(tmp_path / "hub", "PY-TV00", "Thư viện thị xã", role="hub",
                          database=url)
        try:
            pg.bibs = seed(pg)
            make_world(pg)
            inbox.configure()
            assert mail.run_round(pg)["sent"] == 3
            assert mail.run_round(pg) == {**mail.run_round(pg), "new": 0, "sent": 0}
            assert outbox.counts()["sent"] == 3 and len(inbox.messages) == 3
        finally:
            pg.close()


def test_starttls_with_a_login_and_a_wrong_password_kept_in_the_queue(world, tmp_path,
                                                                       monkeypatch):
    import ssl

    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert_file, key_file = self_signed(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_file, key_file)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # the client trusts this server

    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=isinstance(auth_data, LoginPassword)
                          and auth_data.login == b"thuvien"
                          and auth_data.password == b"mat-khau-thu", handled=False)

    box = Inbox(tls_context=server_tls, require_starttls=True, auth_required=True,
                authenticator=authenticator).start()
    try:
        box.configure(tls="starttls", user="thuvien", password="sai-mat-khau")
        result = mail.run_round(world)
        assert result["sent"] == 0 and result["queued"] == 1 and not box.messages
        assert "535" in NoticeMail.get(NoticeMail.attempts == 1).error
        with pytest.raises(Invalid):  # an SMTP login carries no marks
            box.configure(tls="starttls", user="thuvien", password="mật-khẩu-thư")
        box.configure(tls="starttls", user="thuvien", password="mat-khau-thu")
        NoticeMail.update(next_try=0).execute()
        assert mail.send_queued(world)["sent"] == 3 and len(box.messages) == 3
    finally:
        box.stop()


def test_a_guardians_address_stays_at_the_home_library():
    from appliance.core import privacy
    body = {"id": "x", "fields": {"name": "Phạm Gia Huy", "guardian_email": "d@example.vn"},
            "base": {"guardian_email": 0}}
    assert privacy.redact_body(body) == {"id": "x", "fields": {"name": "Phạm Gia Huy"},
                                         "base": {}}


def test_try_later_waits_longer_each_time_and_fails_after_the_last_try(world, inbox):
    inbox.configure()
    inbox.refuse = "451 4.7.1 Thử lại sau"
    outbox.queue_due(world, NAME)
    waits = []
    for _ in range(outbox.MAX_TRIES):
        NoticeMail.update(next_try=0).where(NoticeMail.state == "queued").execute()
        before = time.time()
        mail.send_queued(world)
        row = NoticeMail.get(NoticeMail.kind == "hold_ready")
        waits.append(round(row.next_try - before, -1) if row.state == "queued" else None)
    assert waits[:3] == [60, 120, 240] and waits[-1] is None
    assert {r.state for r in NoticeMail.select()} == {"failed"} and not inbox.messages
    assert "451 4.7.1 Thử lại sau" in row.error
