"""Push, pull, refusals and conflicts between a branch and a real hub process."""

import time

import pytest
import requests

from appliance.core import circulation, events, patrons, policy
from appliance.core.context import Context
from appliance.core.models import Conflict, LoanRule
from appliance.core.verify import verify
from sync import agent, enrol, keys, protocol, usb
from sync.models import SyncRefusal
from tests.factories import loans_fall_due_today
from tests.sync.syncsupport import chain, opened, running_town, seed

LIB = "PY-DH01"


@pytest.fixture
def town(hub_db, tmp_path):
    with running_town(tmp_path, (LIB,), hub_db, admin=None) as town:
        town.branch = town.branches[LIB]
        with opened(town.branch) as ctx:
            town.origin = ctx.origin
        yield town


def hub_ctx_for(hub_dir, library):
    """Staff at the town library acting on a branch's collection (same hub device)."""
    base = Context.open(hub_dir)
    return Context.for_db(base.db, library, origin=base.origin, role="hub",
                          data_dir=hub_dir, settings=base.settings)


def test_push_pull_idempotent_and_verified(town):
    with opened(town.branch) as ctx:
        cards, codes = seed(ctx)
        for code in codes[:3]:
            circulation.checkout(ctx, cards[0], code)
        circulation.checkin(ctx, codes[0])
        loans_fall_due_today(ctx, codes[1])
        circulation.renew(ctx, codes[1])
        head = events.head(ctx.origin)[0]
        first = agent.run_once(ctx)
        assert first["pushed"] == head and first["cursor"] == head
        assert agent.run_once(ctx)["pushed"] == 0
    with opened(town.hub_dir) as hub:
        assert chain(hub, town.origin) == list(range(1, head + 1))
        policy.save_rule(hub, LIB, "adult", "*", loan_days=21, max_loans=4, max_renewals=1)
        assert verify(hub) == []
    with opened(town.branch) as ctx:
        assert agent.run_once(ctx)["pulled"] >= 1
        assert LoanRule.get_by_id(f"{LIB}|adult|*").loan_days == 21
        assert verify(ctx) == []


def _batch(branch_dir, **kw):
    with opened(branch_dir) as ctx:
        mine = keys.load(ctx.data_dir)
        evs = kw.pop("events", None)
        if evs is None:
            evs = [events.to_dict(e) for e in events.since(ctx.origin, 0, 1000)]
        args = dict(sender=ctx.origin, sign_key=mine.sign,
                    recipient=protocol.hub_peer(ctx.settings))
        args.update(kw)
        return protocol.seal_payload({"pull_after": 0}, evs, **args), evs


def _post(town, data):
    return requests.post(town.hub.url + protocol.PATH, data=data, timeout=30,
                         headers={"Content-Type": "application/octet-stream"})


def _code(resp):
    return resp.json()["error"]["code"]


def test_refusals_change_nothing(town, tmp_path):
    with opened(town.branch) as ctx:
        seed(ctx, n_items=2, n_patrons=1)
    good, evs = _batch(town.branch)
    stranger = keys.load_or_create(tmp_path / "stranger")
    other_hub = keys.load_or_create(tmp_path / "other-hub")

    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x40
    assert _code(_post(town, bytes(flipped))) == "bad_signature"
    assert _code(_post(town, _batch(town.branch, sign_key=stranger.sign)[0])) == "bad_signature"
    unknown = _batch(town.branch, sender="py-xx99-00000000", sign_key=stranger.sign,
                     events=[])[0]
    assert _code(_post(town, unknown)) == "unknown_device"
    with opened(town.branch) as ctx:
        hub = protocol.hub_peer(ctx.settings)
    elsewhere = protocol.Peer("py-tv99-00000000", hub.sign_key, keys.b64(other_hub.box_public))
    assert _code(_post(town, _batch(town.branch, recipient=elsewhere)[0])) == "wrong_recipient"
    gap = _post(town, _batch(town.branch, events=evs[3:])[0])
    assert (gap.status_code, _code(gap), gap.json()["error"]["cursor"]) == (409, "gap", 0)
    future = _batch(town.branch, created_ms=int(time.time() * 1000) + 400 * 86400_000)[0]
    assert _code(_post(town, future)) == "future"
    with opened(town.hub_dir) as h:
        assert chain(h, town.origin) == []  # nothing applied so far
        hub_events = [events.to_dict(e) for e in events.since(h.origin, 0, 10)]
    foreign = _batch(town.branch, events=hub_events)[0]
    assert _code(_post(town, foreign)) == "foreign_origin"

    assert _post(town, good).status_code == 200
    replay = _post(town, good)
    assert (replay.status_code, _code(replay)) == (409, "replay")
    with opened(town.hub_dir) as h:
        assert chain(h, town.origin) == [e["seq"] for e in evs]
        enrol.revoke(h, town.origin)
    assert _code(_post(town, _batch(town.branch, events=[])[0])) == "revoked_device"
    with opened(town.hub_dir) as h:
        codes = {r.code for r in SyncRefusal.select()}
        assert {"bad_signature", "unknown_device", "wrong_recipient", "gap", "future",
                "foreign_origin", "replay", "revoked_device"} <= codes
        assert verify(h) == []


def test_conflicts_kept_at_hub_and_branch(town):
    with opened(town.branch) as ctx:
        cards, codes = seed(ctx, n_items=3, n_patrons=3)
        circulation.checkout(ctx, cards[2], codes[2])
        agent.run_once(ctx)
        # offline at the branch:
        circulation.checkout(ctx, cards[0], codes[0])
        for _ in range(2):
            loans_fall_due_today(ctx, codes[2])  # days apart: each moves the due date
            circulation.renew(ctx, codes[2])
        p1 = patrons.find(ctx, cards[1])
        patrons.save(ctx, {"id": p1.id, "phone": "0901000001"})
    hub = hub_ctx_for(town.hub_dir, LIB)
    try:  # meanwhile at the town library, on the same copies and patron
        circulation.checkout(hub, cards[1], codes[0])
        loans_fall_due_today(hub, codes[2])
        circulation.renew(hub, codes[2])
        patrons.save(hub, {"id": p1.id, "phone": "0902000002"})
    finally:
        hub.close()
    with opened(town.branch) as ctx:
        agent.run_once(ctx)
        at_branch = {c.kind for c in Conflict.select().where(Conflict.library == LIB)}
        assert verify(ctx) == []
    with opened(town.hub_dir) as h:
        at_hub = {c.kind for c in Conflict.select().where(Conflict.library == LIB)}
        twice = Conflict.get(Conflict.kind == "loaned_twice")
        assert len(twice.details["loans"]) == 2  # both sides kept
        assert verify(h) == []
    expected = {"loaned_twice", "renewal_past_limit", "edit_conflict"}
    assert expected <= at_hub
    assert expected <= at_branch


def test_usb_both_ways_and_twice(town, tmp_path):
    stick = tmp_path / "stick"
    stick.mkdir()
    with opened(town.branch) as ctx:
        cards, codes = seed(ctx, n_items=3, n_patrons=1)
        circulation.checkout(ctx, cards[0], codes[0])
        head = events.head(ctx.origin)[0]
        assert usb.export(ctx, stick / "up.tvsync")["events"] == head
    with opened(town.hub_dir) as h:
        policy.save_rule(h, LIB, "pupil", "*", loan_days=7, max_loans=2, max_renewals=0)
        first = usb.import_(h, stick / "up.tvsync")
        again = usb.import_(h, stick / "up.tvsync")
        assert first["applied"] == head and first["refused"] == []
        assert again["applied"] == 0 and again["already"] == again["batches"]
        assert chain(h, town.origin) == list(range(1, head + 1))
        assert usb.export(h, stick / "down.tvsync", town.origin)["events"] >= 1
    with opened(town.branch) as ctx:
        first = usb.import_(ctx, stick / "down.tvsync")
        again = usb.import_(ctx, stick / "down.tvsync")
        assert first["applied"] >= 1 and again["applied"] == 0
        assert LoanRule.get_by_id(f"{LIB}|pupil|*").loan_days == 7
        assert agent.run_once(ctx)["pushed"] == 0  # the hub's ack came on the stick too
        assert verify(ctx) == []
    bad = stick / "bad.tvsync"
    bad.write_bytes(b"TVSYNCF1\x00\x00\x00\x09short")
    with opened(town.branch) as ctx, pytest.raises(usb.UsbError):
        usb.import_(ctx, bad)
