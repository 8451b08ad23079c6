"""Patrons' rights over what the other parts keep of a person: a fee owed stops an
erasure, the downloaded data holds the patron's remote requests and fees, and an erasure
leaves no postal address (in the state or the log) and no e-mail waiting to go. A
practice copy sends no e-mail."""

import pytest

from appliance import mail
from appliance.core import circulation, patrons, policy, verify
from appliance.core.errors import Invalid
from appliance.core.fees import commands as fees
from appliance.core.models import Event, Fee, NoticeMail, RemoteRequest
from appliance.core.requests import commands as requests
from appliance.core.rights import commands, export
from appliance.core.training.practice import PracticeContext

ADDRESS = "12 Trần Hưng Đạo, phường 1, Tuy Hòa"


def _postal(ctx, card="P0001"):
    patron = patrons.find(ctx, card)
    return requests.place(ctx, patron, "postal_loan", bib_id=ctx.bibs[1].id, address=ADDRESS)


def test_a_fee_owed_stops_the_erasure_until_it_is_paid(ctx):
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     fee_per_day=0, replacement_fee=50000)
    circulation.checkout(ctx, "P0002", "1001")
    fee = fees.declare(ctx, "1001", "damaged", actor="thuthu")
    with pytest.raises(Invalid) as refused:
        commands.erase(ctx, "P0002")
    assert refused.value.code == "erase_open_fees" and "50.000 ₫" in str(refused.value)
    fees.pay(ctx, fee.id, actor="thuthu")
    commands.erase(ctx, "P0002")
    assert Fee.get_by_id(fee.id).state == "paid", "the fee's record stays, for the accounts"


def test_the_downloaded_data_holds_requests_and_fees(ctx):
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=3, max_renewals=2,
                     fee_per_day=0, replacement_fee=30000)
    _postal(ctx)
    circulation.checkout(ctx, "P0001", "1003")
    fees.declare(ctx, "1003", "damaged", actor="thuthu")
    data = export.collect(patrons.find(ctx, "P0001"))
    [req] = data["requests"]
    assert (req["kind"], req["address"], req["status"]) == ("postal_loan", ADDRESS, "requested")
    [fee] = data["fees"]
    assert (fee["kind"], fee["amount"], fee["status"]) == ("damaged", 30000, "open")
    from io import BytesIO

    from pypdf import PdfReader
    text = "".join(p.extract_text() for p in PdfReader(BytesIO(export.to_pdf(data))).pages)
    assert "Trần Hưng Đạo" in text and "Amount: 30.000 ₫" in text


def test_an_erasure_leaves_no_address_and_no_mail_waiting(ctx):
    req = _postal(ctx)
    patron = patrons.find(ctx, "P0001")
    NoticeMail.create(key=f"overdue|{patron.id}|x|2026-12-01", kind="overdue",
                      patron=patron.id, ref="x", recipient="an@example.vn",
                      subject="Sách quá hạn", body="…")
    requests.cancel(ctx, patron, req.id)
    commands.erase(ctx, "P0001")
    assert RemoteRequest.get_by_id(req.id).address is None
    assert not NoticeMail.select().where(NoticeMail.patron == patron.id).exists()
    assert "Trần Hưng Đạo" not in "".join(e.body for e in Event.select())
    assert verify.verify(ctx) == [], "the shredded request keeps its chain"


def test_a_practice_copy_sends_no_mail(ctx):
    NoticeMail.create(key="overdue|p|x|2026-12-01", kind="overdue", patron="p", ref="x",
                      recipient="an@example.vn", subject="Sách quá hạn", body="…")
    practice = object.__new__(PracticeContext)  # only asked whether it is practice
    assert mail.send_queued(practice, conf={"host": "mail.invalid"},
                            today=ctx.clock.today()) == dict.fromkeys(
        ("sent", "failed", "queued", "unsure", "dropped"), 0)
    assert NoticeMail.get().state == "queued" and NoticeMail.get().attempts == 0
