"""Patrons' rights in core: personal fields sealed with a per-patron key, erasure by
crypto-shredding (verify and rebuild keep working, nothing readable is left in the log
or in a backup made afterwards), events written before sealing shredded in place,
the debts that stop an erasure, the data a patron downloads, and the reading history
nobody sees when it is off and the library unlinks after its retention period."""

import json
import sqlite3
from datetime import timedelta

import pytest

from appliance.core import backup, circulation, events, patrons, privacy, records, verify
from appliance.core.clock import pack
from appliance.core.errors import Invalid, NotFound
from appliance.core.models import Event, Loan, Patron, PatronKey
from appliance.core.rights import commands, erasure, export, history, keys
from tests.factories import make_library

NAME = "Nguyễn Văn An"  # P0001 of tests.factories.seed


def _log_text():
    return "".join(e.body for e in Event.select())


def test_personal_fields_are_sealed_in_the_log_and_open_in_state(ctx):
    patrons.save(ctx, {"id": patrons.find(ctx, "P0001").id, "phone": "0905123456",
                       "email": "an@example.vn"})
    text = _log_text()
    for secret in (NAME, "0905123456", "an@example.vn", "$argon2", "pbkdf2"):
        assert secret not in text, secret
    patron = patrons.find(ctx, "P0001")
    assert (patron.name, patron.phone, patron.email) == (NAME, "0905123456", "an@example.vn")
    # the key travels beside its event, never in it, and never to another library
    key_event = Event.get((Event.kind == "patron.key") & Event.body.contains(patron.id))
    assert "key" not in json.loads(key_event.body)
    d = events.to_dict(key_event)
    assert len(d["key"]) == 44 and events.event_hash(d) == key_event.hash
    assert "key" not in privacy.for_branch(d, "PY-OTHER")
    assert privacy.for_branch(d, ctx.library)["key"] == d["key"]
    # another library's branch gets the name it lends under, opened by the holder of the key
    saved = [events.to_dict(e) for e in Event.select().where(
        (Event.kind == "patron.saved") & Event.body.contains(patron.id))]
    redacted = privacy.for_branch(saved[0], "PY-OTHER")
    assert redacted["body"]["fields"]["name"] == NAME
    assert "phone" not in json.dumps(redacted["body"]) and redacted["hash"] == events.event_hash(
        redacted)


def test_the_hub_takes_the_keys_and_an_erasure_destroys_them_there(ctx, tmp_path):
    held = [events.to_dict(e) for e in Event.select().order_by(Event.pos)]
    hub = make_library(tmp_path / "hub", "PY-TV00", role="hub")
    try:
        events.ingest(hub, held)
        patron = Patron.get(Patron.card == "P0001")
        assert patron.name == NAME and verify.verify(hub) == []
        use(ctx)
        commands.erase(ctx, "P0001")
        erased = [events.to_dict(e) for e in Event.select().where(Event.kind == "patron.erased")]
        use(hub)
        events.ingest(hub, erased)
        assert Patron.get_by_id(patron.id).name == "—"
        assert not PatronKey.select().where(PatronKey.patron == patron.id).exists()
        assert NAME not in _log_text() and verify.verify(hub) == []
    finally:
        hub.close()
        use(ctx)


def use(context):
    from appliance.core.models import database_proxy
    database_proxy.initialize(context.db)


def test_erasure_waits_for_open_loans_and_leaves_nothing_readable(ctx, tmp_path):
    patron = patrons.find(ctx, "P0001")
    circulation.checkout(ctx, "P0001", "1001")
    with pytest.raises(Invalid) as refused:
        commands.erase(ctx, "P0001")
    assert refused.value.code == "erase_open_loans"
    circulation.checkin(ctx, "1001")
    loans = Loan.select().where(Loan.patron == patron.id).count()
    sealed = [json.loads(e.body)["fields"]["name"] for e in Event.select().where(
        (Event.kind == "patron.saved") & Event.body.contains(patron.id))
        if "name" in json.loads(e.body)["fields"]]
    commands.erase(ctx, "P0001")

    row = Patron.get_by_id(patron.id)
    assert (row.name, row.phone, row.pin_hash, row.deleted) == ("—", None, None, True)
    assert Loan.select().where(Loan.patron == patron.id).count() == loans  # still counted
    with pytest.raises(NotFound):
        patrons.find(ctx, "P0001")
    assert not PatronKey.select().where(PatronKey.patron == patron.id).exists()
    assert keys.open_value(patron.id, "name", sealed[0]) is None  # the key is gone
    assert NAME not in _log_text()
    assert verify.verify(ctx) == []
    before = verify.digest()
    verify.rebuild(ctx)
    assert verify.digest() == before and verify.verify(ctx) == []
    copy = backup.backup(ctx.data_dir / "thuvien.db", tmp_path / "after.db")
    assert NAME.encode() not in copy.read_bytes()
    with sqlite3.connect(copy) as held:
        assert held.execute("SELECT COUNT(*) FROM patron_key WHERE patron = ?",
                            (patron.id,)).fetchone() == (0,)
    # edits arriving after the erasure change nothing, and the number is free again
    patrons.save(ctx, {"card": "P0001", "name": "Người khác", "category": "adult"})


def test_events_written_before_sealing_are_shredded_in_place(ctx, tmp_path):
    """A card saved before this version holds its fields in clear: the erasure overwrites
    them, the event keeps its hash (the chain still links), and verify accepts it
    because the log's erasure names the card; a forged body is still caught."""
    old_id = "01900000-0000-7000-8000-000000000001"
    events.record(ctx, "patron.saved", {"id": old_id, "at": "2025-01-02T08:00:00+07:00",
                                        "new": True, "fields": {
                                            "card": "OLD-1", "name": "Lê Thị Cũ",
                                            "category": "adult", "phone": "0911000111",
                                            "library": ctx.library}})
    assert "Lê Thị Cũ" in _log_text()
    commands.erase(ctx, "OLD-1")
    text = _log_text()
    assert "Lê Thị Cũ" not in text and "0911000111" not in text
    assert verify.verify(ctx) == []
    verify.rebuild(ctx)
    assert verify.verify(ctx) == []
    copy = backup.backup(ctx.data_dir / "thuvien.db", tmp_path / "after.db")
    assert "Lê Thị Cũ".encode() not in copy.read_bytes()
    # the exception is the erasure's: a shredded event of a card no erasure names is a fault
    Event.delete().where(Event.kind == "patron.erased").execute()
    assert any("hash does not match" in f for f in verify.check_chains())


def test_a_debt_check_added_by_another_part_stops_the_erasure(ctx):
    def owes_a_fee(ctx, patron):
        return [("fees_owed", "%(card)s owes a fee.", {"card": patron.card})]

    commands.OWES.append(owes_a_fee)
    try:
        with pytest.raises(Invalid) as refused:
            commands.erase(ctx, "P0002")
        assert refused.value.code == "fees_owed"
    finally:
        commands.OWES.remove(owes_a_fee)
    assert patrons.find(ctx, "P0002").name == "Trần Thị Bình"


def test_the_data_a_patron_downloads(ctx):
    patrons.save(ctx, {"id": patrons.find(ctx, "P0001").id, "phone": "0905123456"})
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkout(ctx, "P0001", "1002")
    circulation.checkin(ctx, "1002")
    patron = patrons.find(ctx, "P0001")
    data = export.collect(patron)
    assert data["profile"]["name"] == NAME and data["profile"]["phone"] == "0905123456"
    assert "pin_hash" not in data["profile"]
    assert [loan["barcode"] for loan in data["loans"]] == ["1001"]  # history off: open only
    patrons.save(ctx, {"id": patron.id, "keep_history": True})
    pdf = export.to_pdf(export.collect(patrons.find(ctx, "P0001")))
    from io import BytesIO

    from pypdf import PdfReader
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)
    assert NAME in text and "0905123456" in text


def test_returned_loans_are_unlinked_after_the_retention_period(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkin(ctx, "1001")
    circulation.checkout(ctx, "P0002", "1002")
    circulation.checkin(ctx, "1002")
    patrons.save(ctx, {"id": patrons.find(ctx, "P0002").id, "keep_history": True})
    assert history.unlink_due(ctx) == 0  # returned today: within the 30 days
    history.save_days(ctx, 5)
    assert history.days(ctx.library) == 5
    ctx.clock.observe(pack(ctx.clock.highest_ms() + int(timedelta(days=6).total_seconds()
                                                        * 1000), 0))
    assert history.unlink_due(ctx) == 1  # P0001 only: P0002 keeps a history
    p1, p2 = patrons.find(ctx, "P0001"), patrons.find(ctx, "P0002")
    assert not Loan.select().where(Loan.patron == p1.id).exists()
    assert Loan.select().where(Loan.patron == p2.id).count() == 1
    assert history.unlink_due(ctx) == 0
    assert verify.verify(ctx) == []
    with pytest.raises(Invalid):
        history.save_days(ctx, 0)


def test_records_save_seals_only_patron_cards(ctx):
    row = records.save(ctx, "library.saved", __import__(
        "appliance.core.models", fromlist=["Library"]).Library, "code", ctx.library,
        {"name": "Thư viện thử"}, library=ctx.library)
    assert row.name == "Thư viện thử" and "Thư viện thử" in _log_text()
    assert erasure.erased_card("01900000-0000-7000-8000-000000000001").startswith("X-")


def test_every_msgid_of_the_rights_is_translated_into_vietnamese():
    from pathlib import Path

    from babel.messages.pofile import read_po

    from tests.web.test_translations import PLACEHOLDER, ROOT, extracted_msgids

    found = extracted_msgids(ROOT / "appliance" / "translations" / "babel-rights.cfg")
    assert len(found) > 20
    with open(Path(ROOT) / "appliance/translations/vi/LC_MESSAGES/rights.po", "rb") as f:
        catalog = read_po(f, locale="vi")
    translated = set()  # every area's words, as the web merges them (l10n.py)
    for po in (Path(ROOT) / "appliance/translations/vi/LC_MESSAGES").glob("*.po"):
        with open(po, "rb") as f:
            translated |= {m.id for m in read_po(f, locale="vi") if m.id and m.string}
    missing = [f"{where}: {msgid!r}" for msgid, where in found.items()
               if msgid not in translated]
    assert not missing, "\n".join(missing)
    for message in catalog:
        if message.id:
            assert set(PLACEHOLDER.findall(message.id)) == set(
                PLACEHOLDER.findall(message.string)), message.id
