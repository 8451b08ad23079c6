"""The event log: hash chains, rebuild equals state, idempotent ingest, conflicts.

Models are bound to the database last opened, so each step opens the site it acts on."""

import hashlib
import json

import pytest

from appliance.core import circulation, datadir, events, patrons, verify
from appliance.core.context import Context
from appliance.core.errors import Invalid
from appliance.core.models import Conflict, Event, Item, Loan, Patron
from tests.sync.syncsupport import hub_db_fixture  # noqa: F401  (the hub_db fixture)


def test_every_change_is_a_chained_event(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    circulation.checkin(ctx, "1001")
    evs = list(Event.select().order_by(Event.seq))
    assert [e.seq for e in evs] == list(range(1, len(evs) + 1))
    assert all(b.prev_hash == a.hash for a, b in zip(evs, evs[1:], strict=False))
    assert [e.kind for e in evs[-2:]] == ["loan.out", "loan.in"]
    assert verify.verify(ctx) == []


def test_the_hash_is_sha256_of_the_canonical_event(ctx):
    """The hash format is shared with every device in the town: written out in full here,
    so a faster way of computing it cannot change it."""
    circulation.checkout(ctx, "P0001", "1001")
    ev = Event.select().where(Event.kind == "loan.out").get()
    fields = {k: getattr(ev, k) for k in ("id", "origin", "seq", "hlc", "wall", "library",
                                          "kind", "prev_hash")}
    fields["body"] = json.loads(ev.body)
    text = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert ev.hash == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert ev.body == json.dumps(fields["body"], ensure_ascii=False, sort_keys=True,
                                 separators=(",", ":"))


def test_tampering_is_found(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    ev = Event.select().where(Event.kind == "loan.out").get()
    body = json.loads(ev.body)
    body["due_date"] = "2099-01-01"
    Event.update(body=events.canonical(body)).where(Event.id == ev.id).execute()
    faults = verify.verify(ctx)
    assert any("hash does not match" in f for f in faults)


def test_state_drift_is_found_and_rebuild_repairs_it(ctx):
    circulation.checkout(ctx, "P0001", "1001")
    Item.update(status="lost").where(Item.barcode == "1001").execute()  # bypassing the log
    assert any(f.startswith("Item") for f in verify.verify(ctx))
    verify.rebuild(ctx)
    assert Item.get(Item.barcode == "1001").status == "on_loan"
    assert verify.verify(ctx) == []


def _copy_events(src_ctx):
    return [events.to_dict(e) for e in Event.select().where(Event.origin == src_ctx.origin)
            .order_by(Event.seq)]


@pytest.fixture
def two_sites(tmp_path, ctx, hub_db):
    """`ctx` (the branch) and the hub (SQLite or PostgreSQL), which has its events."""
    history = _copy_events(ctx)
    ctx.close()
    other = datadir.init(tmp_path / "other", ctx.library, "Thư viện phường Hòa Hiệp Trung",
                         role="hub", database=hub_db)
    result = events.ingest(other, history)
    assert result["applied"] == len(history)
    other_events = _copy_events(other)
    other.close()
    branch = Context.open(ctx.data_dir)
    return branch, other, other_events


def test_ingest_is_idempotent_and_all_or_nothing(two_sites):
    branch, other, _ = two_sites
    circulation.checkout(branch, "P0001", "1001")
    batch = _copy_events(branch)
    other = Context.open(other.data_dir)
    assert events.ingest(other, batch)["applied"] == 1
    count = Event.select().count()
    assert events.ingest(other, batch) == {"applied": 0, "skipped": len(batch), "stored": [],
                                           "heads": {branch.origin: batch[-1]["seq"]}}
    assert Event.select().count() == count
    # A gap: the next event without the one before it is refused, nothing applied.
    circulation.checkin(Context.open(branch.data_dir), "1001")
    circulation.checkout(Context.open(branch.data_dir), "P0002", "1001")
    later = _copy_events(branch)
    other = Context.open(other.data_dir)
    with pytest.raises(Invalid) as info:
        events.ingest(other, [later[-1]])
    assert info.value.code == "chain_gap"
    assert Event.select().count() == count
    # A forged event: hash does not match.
    forged = dict(later[-2], body=dict(later[-2]["body"], fee=0, at="1970-01-01"))
    with pytest.raises(Invalid):
        events.ingest(other, [forged, later[-1]])
    assert Event.select().count() == count
    assert verify.verify(other) == []


def test_same_copy_loaned_at_two_places(two_sites):
    branch, other, _ = two_sites
    at_branch = circulation.checkout(branch, "P0001", "1001")
    branch_events = _copy_events(branch)
    other = Context.open(other.data_dir)
    at_hub = circulation.checkout(other, "P0002", "1001")  # later by HLC
    events.ingest(other, branch_events)
    conflict = Conflict.get(Conflict.kind == "loaned_twice")
    assert sorted(conflict.details["loans"]) == sorted([at_branch["loan_id"], at_hub["loan_id"]])
    open_loans = list(Loan.select().where(Loan.returned_at.is_null()))
    assert [loan.id for loan in open_loans] == [at_hub["loan_id"]]
    assert Loan.select().count() == 2, "both loans are kept"
    assert verify.verify(other) == []


def test_return_of_copy_the_log_thinks_is_on_the_shelf(two_sites):
    branch, other, _ = two_sites
    circulation.checkout(branch, "P0001", "1001")
    circulation.checkin(branch, "1001")
    batch = _copy_events(branch)
    other = Context.open(other.data_dir)
    loan_in = [e for e in batch if e["kind"] == "loan.in"]
    # The hub already has the return, then the same loan's return arrives again from
    # a restored branch with a new chain: applied, flagged, nothing lost.
    events.ingest(other, batch)
    from appliance.core.projector import loan_in as apply_loan_in
    fake = Event(id="x", wall="2026-01-01T00:00:00", library=other.library, hlc=1)
    apply_loan_in(fake, loan_in[0]["body"])
    assert Conflict.select().where(Conflict.kind == "returned_not_on_loan").count() == 1


def test_concurrent_patron_edits_keep_the_loser(two_sites):
    branch, other, _ = two_sites
    p = patrons.find(branch, "P0001")
    patrons.save(branch, {"id": p.id, "phone": "0905000001"})
    branch_events = _copy_events(branch)
    other = Context.open(other.data_dir)
    patrons.save(other, {"id": p.id, "phone": "0905999999"})  # later, did not see the first
    events.ingest(other, branch_events)
    assert Patron.get_by_id(p.id).phone == "0905999999"
    conflict = Conflict.get(Conflict.kind == "edit_conflict")
    assert conflict.details == {"model": "Patron", "field": "phone", "kept": "0905999999",
                                "lost": "0905000001"}
    assert verify.verify(other) == []


def test_sequential_edits_are_not_conflicts(two_sites):
    branch, other, _ = two_sites
    p = patrons.find(branch, "P0001")
    patrons.save(branch, {"id": p.id, "phone": "0905000001"})
    batch = _copy_events(branch)
    other = Context.open(other.data_dir)
    assert events.ingest(other, batch)["applied"] == 1
    patrons.save(other, {"id": p.id, "phone": "0905000002"})  # saw the first edit
    assert Patron.get_by_id(p.id).phone == "0905000002"
    assert Conflict.select().count() == 0


def test_rebuild_reproduces_conflicts(two_sites):
    branch, other, _ = two_sites
    circulation.checkout(branch, "P0001", "1001")
    batch = _copy_events(branch)
    other = Context.open(other.data_dir)
    circulation.checkout(other, "P0002", "1001")
    events.ingest(other, batch)
    before = [(c.id, c.kind) for c in Conflict.select().order_by(Conflict.id)]
    verify.rebuild(other)
    assert [(c.id, c.kind) for c in Conflict.select().order_by(Conflict.id)] == before


def _due_today(ctx):
    """The open loan falls due today, as days later: a renewal then moves its date."""
    Loan.update(due_date=ctx.clock.today().isoformat()).where(
        Loan.returned_at.is_null()).execute()


def test_renewals_past_the_limit_at_two_places(two_sites):
    branch, other, _ = two_sites
    circulation.checkout(branch, "P0001", "1001")
    batch = _copy_events(Context.open(branch.data_dir))
    other = Context.open(other.data_dir)
    events.ingest(other, batch)
    branch = Context.open(branch.data_dir)
    for _ in range(2):
        _due_today(branch)  # a renewal that moves the due date (a later day)
        circulation.renew(branch, "1001")
    renewals = _copy_events(branch)
    other = Context.open(other.data_dir)
    _due_today(other)
    circulation.renew(other, "1001")  # the patron renewed on the phone as well
    events.ingest(other, renewals)
    loan = Loan.get()
    assert loan.renewals == 3
    assert Conflict.get(Conflict.kind == "renewal_past_limit").details == {
        "renewals": 3, "max_renewals": 2}
    assert verify.verify(other) == []


@pytest.mark.parametrize("bad", [None, "x", {}, {"origin": "a", "seq": "1"},
                                 {"origin": "a", "seq": 1, "hlc": 1, "body": []}])
def test_malformed_events_are_refused_and_change_nothing(ctx, bad):
    before = Event.select().count()
    with pytest.raises(Invalid) as info:
        events.ingest(ctx, [bad])
    assert info.value.code == "bad_event"
    assert Event.select().count() == before


def test_ids_are_uuid7_in_time_order():
    import uuid

    from appliance.core.ids import new_id
    made = [new_id(1_700_000_000_000 + n) for n in range(50)]
    for text in made:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert parsed.int >> 80 == int(text[:8] + text[9:13], 16)  # the milliseconds
    assert made == sorted(made) and len(set(made)) == 50


def test_a_batch_of_loans_with_conflicts_applies_as_one_by_one(two_sites):
    """A run of loans and returns is applied set-wise at the hub (projector.Batched); the
    rows must be those of the events applied one by one, which `verify` replays."""
    branch, other, _ = two_sites
    first = circulation.checkout(branch, "P0001", "1001")
    circulation.checkout(branch, "P0001", "1002")
    synced = _copy_events(branch)
    other = Context.open(other.data_dir)
    events.ingest(other, synced)
    circulation.checkin(other, "1001")  # returned at the hub as well
    at_hub = circulation.checkout(other, "P0002", "1003")
    branch = Context.open(branch.data_dir)
    circulation.checkin(branch, "1001")
    at_branch = circulation.checkout(branch, "P0001", "1003")  # later: it stands
    circulation.checkin(branch, "1002")
    circulation.checkout(branch, "P0002", "1002")
    circulation.checkout(branch, "P0002", "1004")
    circulation.checkin(branch, "1004")
    run = _copy_events(branch)[len(synced):]
    assert len(run) == 6 and {e["kind"] for e in run} == {"loan.out", "loan.in"}
    other = Context.open(other.data_dir)
    assert events.ingest(other, run)["applied"] == 6
    kinds = {c.kind: c for c in Conflict.select()}
    assert kinds["returned_not_on_loan"].details["loan_id"] == first["loan_id"]
    assert kinds["returned_not_on_loan"].details["returned_twice"] is True
    assert sorted(kinds["loaned_twice"].details["loans"]) == sorted(
        [at_hub["loan_id"], at_branch["loan_id"]])
    open_loans = {loan.item.barcode: loan.patron.card
                  for loan in Loan.select().where(Loan.returned_at.is_null())}
    assert open_loans == {"1003": "P0001", "1002": "P0002"}
    assert {i.barcode: i.status for i in Item.select()}["1004"] == "available"
    assert verify.verify(other) == []


def test_a_batch_of_record_edits_with_conflicts_applies_as_one_by_one(two_sites):
    """A run of record, copy and card edits is applied set-wise (projector.Records):
    same rows and conflicts as one by one, which `verify` replays."""
    from appliance.core import catalogue

    branch, other, _ = two_sites
    p1, p2 = patrons.find(branch, "P0001"), patrons.find(branch, "P0002")
    synced = _copy_events(branch)
    other = Context.open(other.data_dir)
    patrons.save(other, {"id": p2.id, "phone": "0906000000"})  # earlier than the branch's
    branch = Context.open(branch.data_dir)
    patrons.save(branch, {"id": p1.id, "phone": "0905000001"})
    patrons.save(branch, {"id": p2.id, "phone": "0905000002"})
    bib = catalogue.save_bib(branch, {"title": "Tắt đèn", "authors": ["Ngô Tất Tố"]})
    catalogue.save_item(branch, {"bib": bib.id, "barcode": "2001"})
    catalogue.save_bib(branch, {"id": bib.id, "title": "Tắt đèn (tái bản)"})
    catalogue.set_status(branch, "1001", "damaged")
    patrons.save(branch, {"id": p1.id, "phone": "0905000003"})
    run = _copy_events(branch)[len(synced):]
    assert {e["kind"] for e in run} == {"patron.saved", "bib.saved", "item.saved"}
    other = Context.open(other.data_dir)
    patrons.save(other, {"id": p1.id, "phone": "0905999999"})  # later, saw neither
    assert events.ingest(other, run)["applied"] == len(run)
    assert Patron.get_by_id(p1.id).phone == "0905999999"
    assert Patron.get_by_id(p2.id).phone == "0905000002"
    lost = sorted(c.details["lost"] for c in Conflict.select().where(
        Conflict.kind == "edit_conflict"))
    assert lost == ["0905000001", "0905000003", "0906000000"]
    assert Item.get(Item.barcode == "2001").bib.title == "Tắt đèn (tái bản)"
    assert Item.get(Item.barcode == "1001").status == "damaged"
    assert verify.verify(other) == []


@pytest.mark.parametrize("text", ['"quoted" \\ back', "tab\tnew\nline\x01", "Nguyễn 🦋", "\u2028"])
def test_event_hash_is_the_canonical_formula_whatever_the_text(text):
    d = {"id": text, "origin": "o", "seq": 3, "hlc": 2**62, "wall": text, "library": text,
         "kind": "patron.saved", "prev_hash": "0" * 64, "body": {"name": text, "n": [1, None]}}
    fields = {k: d[k] for k in ("id", "origin", "seq", "hlc", "wall", "library", "kind",
                                "prev_hash", "body")}
    full = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert events.event_hash(d) == hashlib.sha256(full.encode("utf-8")).hexdigest()
    flagged = dict(d, seq=True)  # a flag is not a sequence number: hashed as JSON has it
    assert events.event_hash(flagged) != events.event_hash(dict(d, seq=1))


def test_events_of_one_transaction_follow_what_it_stored_before_them(two_sites):
    """The tail read as a write transaction begins serves its first event only while the
    transaction has written nothing: events ingested, or recorded in a savepoint rolled
    back, come before the next event made in it."""
    branch, other, _ = two_sites
    circulation.checkout(branch, "P0001", "1001")
    batch = _copy_events(branch)
    other = Context.open(other.data_dir)
    with events.writing(other):
        events.ingest(other, batch)
        patrons.save(other, {"card": "T0001", "name": "Trần Văn A", "category": "adult"})
        with pytest.raises(RuntimeError), other.db.atomic():  # a savepoint
            patrons.save(other, {"card": "T0002", "name": "Lê Thị B", "category": "adult"})
            raise RuntimeError("this one fails")
        patrons.save(other, {"card": "T0003", "name": "Phạm C", "category": "adult"})
    positions = [e.pos for e in Event.select().order_by(Event.pos)]
    assert positions == list(range(1, len(positions) + 1))
    assert verify.check_chains() == []
    assert verify.verify(other) == []
