"""The branch's sync agent: push its events, pull the town's, resume anywhere.

One request per round trip carries a batch of this device's events after the
hub's acknowledged seq and asks for the town's events after the pull cursor;
the sealed answer holds the hub's cursor for this device and a page of events.
The cursors move only on an answer signed by the hub, in the same transaction
that applies what was pulled, so a cut at any byte or a kill at any moment
leaves the branch where the next run resumes.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timezone

import requests

from appliance.core import events
from appliance.core.errors import DomainError
from provisioning import config, health

from . import certs, envelope, fetch, keys, protocol
from .models import get_state, set_state

log = logging.getLogger("thuvien.sync")

BATCH = 500
PULL_LIMIT = 1000
MAX_ROUNDS = 200
TIMEOUT = (15, 120)  # connect, read: an EDGE link is slow, not dead


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_once(ctx, session: requests.Session | None = None, url: str | None = None,
             batch: int = BATCH) -> dict:
    """One complete sync; raises SyncError (and records it) when it cannot finish."""
    set_state(last_attempt=_now())
    try:
        result = _run(ctx, session, url, batch)
    except protocol.SyncError as exc:
        set_state(last_error=f"{exc.code}: {exc.message}",
                  failures=(get_state("failures", 0) or 0) + 1)
        log.warning("sync: %s: %s", exc.code, exc.message)
        raise
    set_state(last_success=_now(), last_error=None, failures=0)
    certs.renew_if_due(ctx)  # the TLS certificate, before it runs out (never fails a sync)
    return result


def _run(ctx, session, url, batch) -> dict:
    hub = protocol.hub_peer(ctx.settings)
    base = url or ctx.settings["sync"]["hub_url"]
    url = base + protocol.PATH
    offer = None
    keys.finish_promotion(ctx.data_dir)
    mine = keys.load(ctx.data_dir)
    own = session is None
    session = session or certs.hub_session(ctx)  # pins the town CA kept at enrolment
    pushed = pulled = 0
    try:
        for _ in range(MAX_ROUNDS):
            acked = get_state("acked_seq", 0) or 0
            pull_after = get_state("pull_after", 0) or 0
            outgoing = [events.to_dict(e) for e in events.since(ctx.origin, acked, batch)]
            # health as it will stand once this batch is accepted: the fleet page's figures
            report = health.report(ctx, outgoing[-1]["seq"] if outgoing else acked)
            meta = {"pull_after": pull_after, "pull_limit": PULL_LIMIT, "health": report}
            new_keys = keys.load_next(ctx.data_dir)
            if new_keys is not None:  # a rotation: announced in a batch the old key signs
                meta["rotate"] = keys.rotation_proof(ctx.origin, new_keys)
            data = protocol.seal_payload(meta, outgoing, sender=ctx.origin, sign_key=mine.sign,
                                         recipient=hub, created_ms=ctx.clock.wall_ms())
            answer, incoming = _exchange(session, url, data, hub, ctx.origin, mine)
            if answer is None:
                continue  # the hub told us to resend from an earlier seq
            _apply(ctx, answer, incoming)
            if new_keys is not None and answer.get("rotated") is True:
                keys.promote(ctx.data_dir)
                mine = keys.load(ctx.data_dir)
                set_state(keys_rotated=_now())
                log.info("sync: the hub holds this device's new keys; the old ones retire")
            if isinstance(answer.get("config"), dict):
                apply_config(ctx, answer["config"])
            offer = answer.get("update") if isinstance(answer.get("update"), dict) else None
            pushed += answer.get("applied", 0)
            pulled += len(incoming)
            if not answer.get("more") and events.pending_count(ctx.origin, answer["cursor"]) == 0:
                result = {"pushed": pushed, "pulled": pulled, "cursor": answer["cursor"],
                          "pull_after": answer["next"]}
                if offer is not None:  # after the events: software never delays a loan
                    result["update"] = fetch.fetch_offer(ctx, session, base, offer)
                return result
        raise protocol.SyncError("too_many_rounds", "sync did not finish; it resumes next run")
    finally:
        if own:
            session.close()


def _exchange(session, url, data, hub, me, mine):
    batch_hex = envelope.parse(data).header.batch_hex
    try:
        resp = session.post(url, data=data, timeout=TIMEOUT,
                            headers={"Content-Type": "application/octet-stream"})
    except requests.RequestException as exc:
        raise protocol.SyncError("unreachable", f"the hub did not answer: {exc}") from exc
    if resp.status_code != 200:
        return _refused(resp), []
    try:
        env = envelope.parse(resp.content)
        if env.header.sender != hub.id:
            raise envelope.EnvelopeError("wrong_sender", f"answer from {env.header.sender!r}")
        envelope.verify(env, keys.sign_public_from(hub.sign_key))
        answer, incoming = protocol.open_payload(env, me=me, box_key=mine.box)
    except envelope.EnvelopeError as exc:
        raise protocol.SyncError("bad_answer", f"{exc.code}: {exc.reason}") from exc
    if answer.get("batch") != batch_hex or not isinstance(answer.get("cursor"), int):
        raise protocol.SyncError("bad_answer", "the answer is not for the batch sent")
    return answer, incoming


def _refused(resp):
    """Unsigned answers may only send us back to resend more, never skip ahead."""
    try:
        err = resp.json()["error"]
        code, message = str(err["code"]), str(err.get("message", ""))
    except (ValueError, KeyError, TypeError):
        raise protocol.SyncError("http_error", f"HTTP {resp.status_code}") from None
    cursor = err.get("cursor")
    acked = get_state("acked_seq", 0) or 0
    if code in ("gap", "replay") and isinstance(cursor, int) and 0 <= cursor < acked:
        log.info("sync: hub holds %s, resending after it", cursor)
        set_state(acked_seq=cursor)
        return None
    raise protocol.SyncError(code, message, cursor)


def _apply(ctx, answer: dict, incoming: list[dict]) -> None:
    """Pulled events and both cursors in one transaction."""
    try:
        with events.writing(ctx):
            if incoming:
                events.ingest(ctx, incoming, relayed=True)
            cursor = answer["cursor"]
            if cursor <= events.head(ctx.origin)[0]:  # the hub's word, signed
                set_state(acked_seq=cursor)
            set_state(pull_after=answer["next"])
    except DomainError as exc:
        raise protocol.SyncError(exc.code, f"pulled events refused: {exc}") from exc


def apply_config(ctx, doc: dict) -> bool:
    """Apply a signed config bundle from the hub; a refusal is logged and kept for the
    status line, and never stops the events from syncing."""
    wall = datetime.fromtimestamp(ctx.clock.wall_ms() / 1000, timezone.utc)
    try:
        new = config.apply_bundle(ctx.data_dir, doc, now=wall)
    except DomainError as exc:
        reason = f"{exc.code}: {exc}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = f"config_failed: {exc}"
    else:
        log.info("sync: configuration version %s applied", new["config_version"])
        set_state(config_error=None, config_applied=_now())
        return True
    if get_state("config_error") != reason:
        log.warning("sync: configuration from the hub refused: %s", reason)
        set_state(config_error=reason)
    return False


def backoff_delay(failures: int, interval: float, cap: float) -> float:
    """Seconds to wait after ``failures`` failed runs: doubling, capped, with jitter."""
    if failures <= 0:
        return interval
    return min(cap, interval * 2 ** min(failures, 16)) * random.uniform(0.8, 1.0)


def run_forever(open_ctx, interval: float = 300, cap: float = 3600, stop=None) -> None:
    """The scheduled agent: a run every ``interval`` s, backing off after failures."""
    import schedule

    state = {"due": 0.0}
    scheduler = schedule.Scheduler()

    def tick():
        if time.monotonic() < state["due"]:
            return
        failures = 1
        try:
            ctx = open_ctx()
            try:
                run_once(ctx)
            except protocol.SyncError:
                pass
            failures = get_state("failures", 0) or 0
            ctx.close()
        except Exception:  # keep the agent alive; the next run tries again
            log.exception("sync: unexpected failure")
        state["due"] = time.monotonic() + backoff_delay(failures, interval, cap)

    scheduler.every(1).seconds.do(tick)
    tick()
    while stop is None or not stop.is_set():
        scheduler.run_pending()
        time.sleep(1)
