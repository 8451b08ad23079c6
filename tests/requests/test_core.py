"""The request's state machine, its commands and its download link, at one desk."""

from datetime import datetime, timedelta, timezone

import pytest

from appliance.core import patrons
from appliance.core.errors import Forbidden, Invalid, Refused
from appliance.core.models import Event, Loan
from appliance.core.requests import commands, links, states
from appliance.core.verify import verify

SECRET = "khoa-bi-mat-cua-thu-vien"


def _copy(ctx, card="P0001", pages="1-2", bib=0):
    patron = patrons.find(ctx, card)
    return patron, commands.place(ctx, patron, "copy", bib_id=ctx.bibs[bib].id, pages=pages,
                                  purpose="nghiên cứu lịch sử địa phương", copyright_ok=True)


def test_the_state_machine_refuses_every_illegal_move_in_words():
    assert states.check("copy", "requested", "accept") == "accepted"
    assert states.check("copy", "accepted", "attach") == "ready"
    assert states.check("postal_loan", "accepted", "lend") == "lent"
    with pytest.raises(Refused) as err:
        states.check("copy", "requested", "attach")
    assert err.value.code == "illegal_move" and "waiting" in str(err.value)
    with pytest.raises(Refused) as err:
        states.check("copy", "accepted", "lend")
    assert err.value.code == "wrong_kind"
    for done in ("refused", "cancelled", "expired"):
        for action in states.MOVES:
            if action == "download" or done == "expired" and action == "expire":
                continue
            with pytest.raises(Refused):
                states.check("copy", done, action)
    assert states.allowed("copy", "requested") == ["accept", "refuse"]
    # the projection's order: forward only; of one rank, the earlier clock
    assert states.wins("refused", 9, "accepted", 5)
    assert not states.wins("accepted", 9, "refused", 5)
    assert states.wins("cancelled", 4, "refused", 5)
    assert not states.wins("cancelled", 6, "refused", 5)


def test_a_copy_is_asked_accepted_attached_and_downloaded(ctx, pdf_file):
    patron, req = _copy(ctx)
    assert (req.state, req.library, req.pages) == ("requested", ctx.library, "1-2")
    with pytest.raises(Refused):
        commands.attach(ctx, req.id, pdf_file, actor="thuthu")
    commands.accept(ctx, req.id, actor="thuthu")
    req = commands.attach(ctx, req.id, pdf_file, actor="thuthu")
    assert req.state == "ready" and req.page_count == 2 and req.sha256
    token = links.make(SECRET, req)
    got = commands.download(ctx, SECRET, token, req.id, patron)
    commands.delivered(ctx, got)
    assert commands.get(ctx, req.id).state == "delivered"
    assert [e.kind for e in Event.select().where(Event.kind.startswith("request."))
            .order_by(Event.pos)] == ["request.placed", "request.accepted", "request.ready",
                                      "request.delivered"]
    assert verify(ctx) == []


def test_the_link_expires_at_its_day_and_is_only_the_patrons(ctx, pdf_file):
    patron, req = _copy(ctx)
    commands.accept(ctx, req.id)
    req = commands.attach(ctx, req.id, pdf_file)
    token = links.make(SECRET, req)
    expires = datetime.fromisoformat(req.expires_at)
    commands.download(ctx, SECRET, token, req.id, patron, now=expires - timedelta(seconds=1))
    other = patrons.find(ctx, "P0002")
    with pytest.raises(Exception) as err:
        commands.download(ctx, SECRET, token, req.id, other, now=expires - timedelta(hours=1))
    assert err.value.code == "request_not_found"  # another patron: not even shown
    req_row = commands.get(ctx, req.id)
    with pytest.raises(Forbidden) as err:
        links.check(SECRET, token, req_row, other.id, expires - timedelta(hours=1))
    assert err.value.code == "not_your_request"
    with pytest.raises(Forbidden):
        links.check("another-key", token, req_row, patron.id, expires - timedelta(hours=1))
    with pytest.raises(Refused) as err:
        commands.download(ctx, SECRET, token, req.id, patron, now=expires)
    assert err.value.code == "link_expired" and expires.strftime("%d/%m/%Y") in str(err.value)
    assert commands.get(ctx, req.id).state == "expired"  # recorded once, as an event
    with pytest.raises(Refused):
        commands.download(ctx, SECRET, token, req.id, patron, now=expires)
    assert Event.select().where(Event.kind == "request.expired").count() == 1


def test_refusals_and_cancels_say_why(ctx):
    patron, req = _copy(ctx)
    with pytest.raises(Invalid):
        commands.refuse(ctx, req.id, "  ")
    req = commands.refuse(ctx, req.id, "Tài liệu quý, chỉ đọc tại chỗ", actor="thuthu")
    assert (req.state, req.reason) == ("refused", "Tài liệu quý, chỉ đọc tại chỗ")
    with pytest.raises(Refused) as err:
        commands.cancel(ctx, patron, req.id)
    assert "refused" in str(err.value)
    _p, second = _copy(ctx, bib=1)
    assert commands.cancel(ctx, patron, second.id).state == "cancelled"
    with pytest.raises(Invalid) as err:
        commands.place(ctx, patron, "copy", bib_id=ctx.bibs[0].id, pages="1-2",
                       purpose="học", copyright_ok=False)
    assert err.value.code == "copyright_not_accepted"
    for pages in ("", "ba", "7-3", "0"):
        with pytest.raises(Invalid):
            commands.place(ctx, patron, "copy", bib_id=ctx.bibs[0].id, pages=pages,
                           purpose="học", copyright_ok=True)


def test_a_file_that_is_not_a_pdf_is_refused(ctx, tmp_path):
    _patron, req = _copy(ctx)
    commands.accept(ctx, req.id)
    fake = tmp_path / "scan.pdf"
    fake.write_bytes(b"%PDF-1.4 not really a pdf at all")
    with pytest.raises(Invalid) as err:
        commands.attach(ctx, req.id, fake)
    assert err.value.code == "not_a_pdf"
    jpeg = tmp_path / "scan.jpg"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0 a picture")
    with pytest.raises(Invalid):
        commands.attach(ctx, req.id, jpeg)
    assert commands.get(ctx, req.id).state == "accepted"


def test_a_loan_by_post_runs_the_postal_days_longer_and_comes_back(ctx):
    from appliance.core import circulation, policy

    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     fee_per_day=1000, postal_days=5)
    patron = patrons.find(ctx, "P0001")
    req = commands.place(ctx, patron, "postal_loan", bib_id=ctx.bibs[1].id,
                         address="12 Trần Hưng Đạo, phường 1, Tuy Hòa")
    assert req.library == patron.library and req.address.startswith("12 Trần")
    with pytest.raises(Refused) as err:
        commands.place(ctx, patron, "postal_loan", bib_id=ctx.bibs[1].id,
                       address="12 Trần Hưng Đạo, phường 1, Tuy Hòa")
    assert err.value.code == "already_asked"
    commands.accept(ctx, req.id, actor="thuthu")
    with pytest.raises(Invalid):
        commands.lend(ctx, req.id, "1001")  # a copy of another book
    req = commands.lend(ctx, req.id, "1002", actor="thuthu")
    loan = Loan.get_by_id(req.loan_id)
    expected = policy.due_date(ctx.library, ctx.clock.today(), 14 + 5)
    assert req.state == "lent" and loan.due_date == expected.isoformat() == req.due_date
    body = Event.select().where(Event.kind == "loan.out").order_by(Event.pos.desc()).get()
    assert f'"by_post":"{req.id}"' in body.body
    with pytest.raises(Refused) as err:
        commands.close_returned(ctx, req.id)
    assert err.value.code == "still_on_loan"
    result = circulation.checkin(ctx, "1002")
    assert commands.returned(ctx, result["loan_id"]).state == "returned"
    assert verify(ctx) == []


def test_postal_loans_are_counted_apart_in_the_statistics(ctx):
    from appliance.core import circulation
    from appliance.core.reports import figures, period

    patron = patrons.find(ctx, "P0001")
    circulation.checkout(ctx, "P0002", "1001")  # an ordinary loan
    req = commands.place(ctx, patron, "postal_loan", bib_id=ctx.bibs[1].id,
                         address="12 Trần Hưng Đạo, phường 1, Tuy Hòa")
    commands.accept(ctx, req.id)
    commands.lend(ctx, req.id, "1002")
    today = ctx.clock.today()
    counted = figures.compute(period.month(today.year, today.month), [ctx.library])
    mine = counted[ctx.library]
    assert (mine["loans"], mine["loans_by_post"]) == (2, 1)


def test_a_copy_of_a_digitised_document_goes_to_its_library(ctx, tmp_path):
    from PIL import Image

    from appliance.core.digital import documents

    page = tmp_path / "trang.png"
    Image.new("RGB", (40, 60), "white").save(page)
    doc_id = documents.attach(ctx, ctx.bibs[3].id, [page, page, page], access="patrons")
    patron = patrons.find(ctx, "P0001")
    with pytest.raises(Invalid) as err:
        commands.place(ctx, patron, "copy", document_id=doc_id, pages="2-4",
                       purpose="học", copyright_ok=True)
    assert err.value.code == "page_out_of_range"
    req = commands.place(ctx, patron, "copy", document_id=doc_id, pages="2-3",
                         purpose="học", copyright_ok=True)
    assert (req.document, req.bib, req.library) == (doc_id, ctx.bibs[3].id, ctx.library)
    staff_only = documents.attach(ctx, ctx.bibs[2].id, [page], access="staff")
    with pytest.raises(Exception) as err:
        commands.place(ctx, patron, "copy", document_id=staff_only, pages="1",
                       purpose="học", copyright_ok=True)
    assert err.value.code == "document_not_found"


def test_the_daily_sweep_and_the_command_line_end_links_past_their_day(ctx, data_dir,
                                                                        pdf_file, capsys):
    import json

    from appliance.cli import main

    patron, req = _copy(ctx)
    commands.accept(ctx, req.id)
    req = commands.attach(ctx, req.id, pdf_file)
    expires = datetime.fromisoformat(req.expires_at)
    assert commands.expire_due(ctx, now=expires - timedelta(minutes=1)) == 0
    assert commands.expire_due(ctx, now=expires) == 1
    assert commands.get(ctx, req.id).state == "expired"
    assert main(["requests", "list", "--data", str(data_dir), "--all"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["state"]) for r in listed] == [(req.id, "expired")]
    assert main(["requests", "expire", "--data", str(data_dir)]) == 0
    assert json.loads(capsys.readouterr().out) == {"expired": 0}


def test_the_housekeeping_loop_ends_links_past_their_day(ctx, pdf_file):
    from appliance import maintenance

    patron, req = _copy(ctx)
    commands.accept(ctx, req.id)
    req = commands.attach(ctx, req.id, pdf_file)
    maintenance.run_once(ctx)
    assert commands.get(ctx, req.id).state == "ready"
    ctx.clock.offset_ms = int((datetime.fromisoformat(req.expires_at)
                               - datetime.now(timezone.utc)).total_seconds() * 1000) + 60_000
    maintenance.run_once(ctx)
    assert commands.get(ctx, req.id).state == "expired"


def test_a_schema_28_library_gains_the_language_of_its_requests(ctx):
    """Migration 29: requests asked before keep no language (their e-mail is in the
    library's), new ones keep the patron's; the state still matches its log."""
    import sqlite3

    from appliance.core import db
    from appliance.core.context import Context
    from appliance.core.models import RemoteRequest

    _patron, old = _copy(ctx)
    data_dir, bibs = ctx.data_dir, ctx.bibs
    ctx.close()
    con = sqlite3.connect(data_dir / "thuvien.db")
    con.executescript("ALTER TABLE remote_request DROP COLUMN lang; "
                      "UPDATE setting SET value = '28' WHERE key = 'schema_version';")
    con.close()
    upgraded = Context.open(data_dir)
    try:
        assert db.schema_version(upgraded.db) == db.SCHEMA_VERSION >= 29
        assert RemoteRequest.get_by_id(old.id).lang is None
        new = commands.place(upgraded, patrons.find(upgraded, "P0001"), "copy",
                             bib_id=bibs[1].id, pages="2", purpose="học tập",
                             copyright_ok=True, lang="en")
        assert RemoteRequest.get_by_id(new.id).lang == "en"
        assert verify(upgraded) == []
    finally:
        upgraded.close()


def test_verify_checks_the_copies_held_here(ctx, pdf_file):
    from appliance.core.requests import copies

    _patron, req = _copy(ctx)
    commands.accept(ctx, req.id)
    req = commands.attach(ctx, req.id, pdf_file)
    assert verify(ctx) == []
    path = copies.path(ctx.files, req)
    path.write_bytes(path.read_bytes() + b" ")
    assert verify(ctx) == [f"digital master {req.sha256}.pdf does not match its checksum"]
    path.unlink()  # not here: it comes with the next sync, no fault
    assert verify(ctx) == []
