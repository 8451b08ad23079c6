"""Schema 7: a branch that pulled other libraries' patron cards whole before the hub
redacted them no longer holds their PIN hashes, phones, e-mails or guardians, in its
cards, its event log or its conflicts; its own library's patrons and the hub keep all,
and state still equals a rebuild from the log."""

import sqlite3

from appliance.core import db, events, patrons, privacy
from appliance.core.context import Context
from appliance.core.models import Conflict, Event, Patron
from appliance.core.verify import verify
from tests.factories import make_library

A, B = "PY-DH01", "PY-DH02"


def _dicts(query):
    return [events.to_dict(e) for e in query.order_by(Event.pos)]


def _make_events(tmp_path):
    """B registers a card and edits its phone; the hub, not having seen that edit yet,
    edits the phone too: two concurrent edits, so every holder keeps an edit conflict."""
    b = make_library(tmp_path / "b", B)
    lan = patrons.save(b, {"card": "B-0001", "name": "Nguyễn Thị Lan", "category": "adult",
                           "phone": "0905111222", "email": "lan@example.vn", "pin": "4321",
                           "birth_year": 1980})
    patrons.save(b, {"card": "B-0002", "name": "Trần Minh", "category": "child",
                     "guardian": "Trần Văn Hùng", "guardian_consent": True})
    created = _dicts(Event.select())
    patrons.save(b, {"id": lan.id, "phone": "0905000001"})
    edit = _dicts(Event.select().where(Event.seq > created[-1]["seq"]))
    b.close()
    hub = make_library(tmp_path / "hub", "PY-TV00", role="hub")
    events.ingest(hub, created)
    patrons.save(hub, {"id": lan.id, "phone": "0905000002"})
    hub_edit = _dicts(Event.select().where(Event.origin == hub.origin).order_by(Event.seq))[-1:]
    events.ingest(hub, edit)
    hub.close()
    return lan.id, [d for d in created if d["kind"] in ("patron.saved", "patron.key")], \
        edit, hub_edit


def _as_schema_6(path):
    con = sqlite3.connect(path / "thuvien.db")
    con.execute("UPDATE setting SET value = '6' WHERE key = 'schema_version'")
    con.commit()
    con.close()


def test_a_branch_forgets_what_it_held_of_other_libraries_patrons(tmp_path):
    lan_id, created, edit, hub_edit = _make_events(tmp_path)
    a = make_library(tmp_path / "a", A)
    mine = patrons.save(a, {"card": "A-0001", "name": "Lê Văn Tư", "category": "adult",
                            "phone": "0905777888", "email": "tu@example.vn", "pin": "1111"})
    events.ingest(a, created + edit + hub_edit, relayed=True)  # as hubs before schema 7 sent
    assert Patron.get_by_id(lan_id).pin_hash is not None
    assert Conflict.select().where(Conflict.entity == lan_id).count() == 1
    assert verify(a) == []
    # what the hub sends (it holds the cards' keys, and opens the names with them)
    sent = [privacy.for_branch(d, A) for d in created + edit + hub_edit]
    a.close()
    _as_schema_6(tmp_path / "a")

    a = Context.open(tmp_path / "a")
    try:
        assert db.schema_version(a.db) == db.SCHEMA_VERSION >= 7
        lan = Patron.get_by_id(lan_id)
        assert (lan.card, lan.name, lan.category, lan.library) == (
            "B-0001", "Nguyễn Thị Lan", "adult", B)
        for row in Patron.select().where(Patron.library == B):
            assert (row.pin_hash, row.phone, row.email, row.guardian, row.birth_year) == (
                None, None, None, None, None)
            assert not row.guardian_consent and set(row.field_hlc) <= privacy.LENDING_FIELDS
        log = "".join(e.body for e in Event.select().where(Event.library == B))
        for secret in ("0905", "lan@example.vn", "Trần Văn Hùng", "pin_hash", "birth_year"):
            assert secret not in log, secret
        assert not Conflict.select().where(Conflict.entity == lan_id).exists()
        own = Patron.get_by_id(mine.id)  # this library's patrons keep all
        assert own.phone == "0905777888" and own.pin_hash and own.email == "tu@example.vn"
        assert verify(a) == []
        # the events the hub sends from now on are those the branch now holds
        held = {e.id: e.hash for e in Event.select().where(Event.library == B)}
        assert held == {d["id"]: d["hash"] for d in sent}
        assert events.ingest(a, sent[:len(created + edit)],
                             relayed=True)["skipped"] == len(created + edit)
        # and a stick an older hub wrote, carried in now, finds them held (no fork)
        from sync import answer, models
        models.ensure_tables(a.db)
        # (its cards as the hub that wrote it held them: sealed names opened there)
        assert answer.apply(a, {}, sent)["skipped"] == len(held)
        assert verify(a) == []
    finally:
        a.close()


def test_the_hub_and_the_home_library_keep_everything(tmp_path):
    lan_id, *_ = _make_events(tmp_path)
    for folder in ("hub", "b"):
        path = tmp_path / folder
        ctx = Context.open(path)
        before = {f.name: getattr(Patron.get_by_id(lan_id), f.name)
                  for f in Patron._meta.sorted_fields}
        log = [(e.id, e.body, e.hash) for e in Event.select().order_by(Event.pos)]
        ctx.close()
        _as_schema_6(path)
        ctx = Context.open(path)
        try:
            assert {f.name: getattr(Patron.get_by_id(lan_id), f.name)
                    for f in Patron._meta.sorted_fields} == before
            assert before["pin_hash"] and before["phone"]
            assert [(e.id, e.body, e.hash) for e in Event.select().order_by(Event.pos)] == log
            assert verify(ctx) == []
        finally:
            ctx.close()
