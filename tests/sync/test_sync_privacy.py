"""Patron data stays home: a branch of another library holds a town-wide card's lending
fields only, in its state and in its event log; the home library and the hub keep all.

A real hub process (SQLite and PostgreSQL) and three enrolled branches: B registers
cards with PINs, phones, e-mails and a child's guardian; A pulls over the link, C over a
USB stick (the hub's other path to a branch). Edits at B and at the hub after that reach
A redacted, and wipe nothing at B or at the hub.
"""

import json

import pytest
import requests

from appliance.core import patrons, privacy
from appliance.core.models import Conflict, Event, Patron
from appliance.core.rights import keys as keys_of_cards
from appliance.core.verify import verify
from sync import agent, envelope, keys, protocol, usb
from tests.sync.syncsupport import opened, running_town

A, B, C = "PY-DH01", "PY-DH02", "PY-DH03"
PRIVATE = {"pin_hash", "phone", "email", "guardian", "guardian_consent", "birth_year",
           "keep_history"}
PHONES = ("0905111222", "0905333444", "0911999888")
EMAILS = ("lan.nguyen@example.vn", "minh.tran@example.vn")


def register_at_b(ctx):
    adult = patrons.save(ctx, {"card": "B-0001", "name": "Nguyễn Thị Lan", "category": "adult",
                               "phone": PHONES[0], "email": EMAILS[0], "birth_year": 1980,
                               "pin": "4321", "keep_history": True})
    child = patrons.save(ctx, {"card": "B-0002", "name": "Trần Minh", "category": "child",
                               "guardian": "Trần Văn Hùng", "guardian_consent": True,
                               "phone": PHONES[1], "email": EMAILS[1], "pin": "8765"})
    return adult, child


def full_row(patron_id):
    row = Patron.get_by_id(patron_id)
    return {f.name: getattr(row, f.name) for f in Patron._meta.sorted_fields
            if f.name != "field_hlc"}


def assert_sent_redacted(evs, library):
    """What the hub put on the wire for a device of `library`: other libraries' cards
    with the lending fields only."""
    cards = [d for d in evs if d["kind"] == "patron.saved" and d["library"] != library]
    assert cards, "the town-wide cards were sent"
    for d in cards:
        assert set(d["body"]["fields"]) <= privacy.LENDING_FIELDS, d["body"]
        text = json.dumps(d, ensure_ascii=False)
        assert not any(secret in text for secret in (*PHONES, *EMAILS, "Trần Văn Hùng")), text


def opened_answer(ctx, data):
    """A sealed answer of the hub, checked and opened with this device's keys."""
    hub = protocol.hub_peer(ctx.settings)
    env = envelope.parse(data)
    envelope.verify(env, keys.sign_public_from(hub.sign_key))
    return protocol.open_payload(env, me=ctx.origin, box_key=keys.load(ctx.data_dir).box)


def assert_nothing_private(library):
    """No private value of another library's patron in this database: cards, log, conflicts."""
    for row in Patron.select().where(Patron.library != library):
        assert row.pin_hash is None and row.phone is None and row.email is None, row.card
        assert row.guardian is None and not row.guardian_consent and row.birth_year is None
        assert set(row.field_hlc or {}) <= privacy.LENDING_FIELDS, row.field_hlc
    others = list(Event.select().where((Event.kind == "patron.saved") &
                                       (Event.library != library)))
    assert others, "the town-wide cards came"
    for ev in others:
        for secret in (*PHONES, *EMAILS, "Trần Văn Hùng", "pin_hash", "scrypt", "phone"):
            assert secret not in ev.body, (secret, ev.body)
    for c in Conflict.select().where(Conflict.library != library):
        assert not privacy.is_private(c.details.get("model", ""), c.details.get("field", ""))


@pytest.fixture
def town(tmp_path, hub_db):
    with running_town(tmp_path, (A, B, C), hub_db, admin=None) as town:
        with opened(town.branches[B]) as ctx:
            adult, child = register_at_b(ctx)
            agent.run_once(ctx)
        town.adult, town.child, town.tmp = adult.id, child.id, tmp_path
        yield town


def test_the_hub_sends_another_library_the_lending_fields_only(town):
    """The hub redacts, whatever the branch would do: its answer over HTTP, opened. The
    home library gets the card whole (an edit the hub's staff made)."""
    with opened(town.hub_dir) as h:
        patrons.save(h, {"id": town.adult, "phone": PHONES[2]})
    for library in (A, B):
        with opened(town.branches[library]) as ctx:
            data = protocol.seal_payload({"pull_after": 0}, [], sender=ctx.origin,
                                         sign_key=keys.load(ctx.data_dir).sign,
                                         recipient=protocol.hub_peer(ctx.settings))
            resp = requests.post(town.hub.url + protocol.PATH, data=data, timeout=30)
            assert resp.status_code == 200, resp.text
            _, evs = opened_answer(ctx, resp.content)
            if library == A:
                assert_sent_redacted(evs, A)
            else:
                edit = [d for d in evs if d["kind"] == "patron.saved"]
                # whole, its phone sealed with the card's key, which B holds
                assert [keys_of_cards.opened(d["body"]["id"], d["body"]["fields"])[0]
                        for d in edit] == [{"phone": PHONES[2]}]


def test_a_branch_of_another_library_holds_the_lending_fields_only(town):
    with opened(town.branches[A]) as ctx:
        assert agent.run_once(ctx)["pulled"] > 0
        lan = Patron.get_by_id(town.adult)
        assert (lan.card, lan.name, lan.category, lan.library) == (
            "B-0001", "Nguyễn Thị Lan", "adult", B)
        assert patrons.find(ctx, "B-0002").category == "child"
        assert_nothing_private(A)
        assert verify(ctx) == []
    with opened(town.branches[B]) as ctx:  # home: everything, as registered
        lan = full_row(town.adult)
        assert lan["phone"] == PHONES[0] and lan["pin_hash"] and lan["birth_year"] == 1980
        assert full_row(town.child)["guardian"] == "Trần Văn Hùng"
    with opened(town.hub_dir) as h:
        assert full_row(town.adult)["email"] == EMAILS[0]
        assert full_row(town.child)["guardian_consent"] is True
        body = Event.select().where(Event.kind == "patron.saved").first().body
        assert "pin_hash" in body, "the hub's log holds the events whole"
        assert verify(h) == []


def test_edits_reach_other_branches_redacted_and_wipe_nothing_at_home(town):
    with opened(town.branches[A]) as ctx:
        agent.run_once(ctx)
    with opened(town.branches[B]) as ctx:  # B blocks the card and changes the phone
        patrons.block(ctx, "B-0001", "Làm hỏng sách")
        patrons.save(ctx, {"id": town.adult, "phone": PHONES[2]})
        agent.run_once(ctx)
    with opened(town.hub_dir) as h:  # the hub's staff act for the town: a new e-mail
        patrons.save(h, {"id": town.adult, "email": "lan.moi@example.vn", "name": "Nguyễn Lan"})
        expected = full_row(town.adult)
    assert expected["phone"] == PHONES[2] and expected["pin_hash"]
    with opened(town.branches[B]) as ctx:
        agent.run_once(ctx)
        assert full_row(town.adult) == expected, "home holds all, and the same as the hub"
        assert verify(ctx) == []
    with opened(town.branches[A]) as ctx:
        agent.run_once(ctx)
        lan = Patron.get_by_id(town.adult)
        assert (lan.name, lan.blocked, lan.block_reason) == ("Nguyễn Lan", True, "Làm hỏng sách")
        assert {k: getattr(lan, k) for k in ("card", "name", "category", "expiry", "blocked",
                                             "block_reason", "library")} == {
            k: expected[k] for k in ("card", "name", "category", "expiry", "blocked",
                                     "block_reason", "library")}
        assert_nothing_private(A)
        assert "lan.moi" not in "".join(e.body for e in Event.select())
        assert verify(ctx) == []
    with opened(town.hub_dir) as h:
        assert full_row(town.adult) == expected
        assert verify(h) == []


def test_a_usb_stick_carries_the_same_redacted_cards(town):
    with opened(town.branches[C]) as ctx:
        device = ctx.origin
    stick = town.tmp / "down.tvsync"
    with opened(town.hub_dir) as h:
        assert usb.export(h, stick, device=device)["events"] > 0
    with opened(town.branches[C]) as ctx:
        sent = [d for data in usb.read_file(stick) for d in opened_answer(ctx, data)[1]]
        assert_sent_redacted(sent, C)
        assert usb.import_(ctx, stick)["applied"] > 0
        assert Patron.get_by_id(town.adult).name == "Nguyễn Thị Lan"
        assert_nothing_private(C)
        assert verify(ctx) == []
        redacted = {e.id: e.hash for e in Event.select().where(Event.kind == "patron.saved")}
    with opened(town.branches[A]) as ctx:  # over the link: the very same events
        agent.run_once(ctx)
        linked = {e.id: e.hash for e in Event.select().where(
            (Event.kind == "patron.saved") & (Event.library == B))}
    assert {k: v for k, v in redacted.items() if k in linked} == linked
