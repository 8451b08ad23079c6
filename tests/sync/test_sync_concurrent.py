"""Branches pushing at once to a real hub: on PostgreSQL their batches are applied in
parallel when they name different rows, one after the other when they share one (the
town-wide cards below). Either way every event is held once and the rows are those of
the log replayed in its order."""

import threading

import requests

from appliance.core import circulation, events, patrons
from appliance.core.errors import DomainError
from appliance.core.models import Event, Loan, Patron
from appliance.core.verify import verify
from sync import enrol, keys, protocol
from tests.sync.syncsupport import HubProcess, busy_day, chain_as, init, make_town, opened

BRANCHES = 6


def _template(tmp_path):
    branch = init(tmp_path / "template", "PY-DH01")
    with opened(branch) as ctx:
        busy_day(ctx, 80, n_items=8, n_patrons=4)
        for n, card in enumerate(("DH01P0000", "DH01P0001") * 10):  # edits amid the loans
            patrons.save(ctx, {"id": patrons.find(ctx, card).id, "phone": f"090{n:07d}"})
            try:
                circulation.checkout(ctx, card, f"DH01I{n % 8:05d}")
            except DomainError:  # out already: back it comes
                circulation.checkin(ctx, f"DH01I{n % 8:05d}")
        evs = [events.to_dict(e) for e in events.since(ctx.origin, 0, 10**6)]
    cards = {e["body"]["id"] for e in evs if e["kind"] == "patron.saved"}
    return evs, cards


def test_branches_pushing_at_once_are_applied_as_the_log_says(tmp_path, hub_db):
    template, cards = _template(tmp_path)
    hub_dir, _, _ = make_town(tmp_path, (), hub_db=hub_db)
    sealed, chains = [], []
    with opened(hub_dir) as h:
        tokens = [enrol.create_token(h, f"PY-B{i:03d}") for i in range(BRANCHES)]
        hub = protocol.Peer(h.origin, *keys.load(h.data_dir).public_dict().values())
        for i in range(BRANCHES):
            dev, k = f"py-b{i:03d}-test", keys.load_or_create(tmp_path / f"keys-{i}")
            enrol.accept(h, {"token": tokens[i], "device_id": dev, "library": f"PY-B{i:03d}",
                             **k.public_dict()})
            # the first three branches lend to the same town-wide cards: their batches
            # name rows in common and must wait for each other
            shared = {c: c for c in cards} if i < 3 else None
            chain = chain_as(template, dev, "PY-DH01", f"PY-B{i:03d}", ids=shared)
            chains.append(chain)
            sealed.append([protocol.seal_payload({"pull_after": 0}, chain[s:s + 40],
                                                 sender=dev, sign_key=k.sign, recipient=hub)
                           for s in range(0, len(chain), 40)])
    with HubProcess(hub_dir, threads=6) as server:
        answers, start = [], threading.Barrier(BRANCHES)

        def push(batches):
            start.wait()
            for data in batches:
                r = requests.post(server.url + protocol.PATH, data=data, timeout=120)
                answers.append((r.status_code, r.text[:200]))

        workers = [threading.Thread(target=push, args=(b,)) for b in sealed]
        for t in workers:
            t.start()
        for t in workers:
            t.join()
    assert {code for code, _ in answers} == {200}, answers[:3]
    with opened(hub_dir) as h:
        for chain in chains:
            held = [e.seq for e in Event.select(Event.seq).where(
                Event.origin == chain[0]["origin"]).order_by(Event.seq)]
            assert held == list(range(1, len(chain) + 1))
        positions = [e.pos for e in Event.select(Event.pos).order_by(Event.pos)]
        assert positions == list(range(1, len(positions) + 1))  # no gap, no twice
        assert Patron.select().where(Patron.id << list(cards)).count() == len(cards)
        assert Loan.select().count() > 0
        assert verify(h) == []
