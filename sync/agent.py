"""The branch's sync agent: push its events, pull the town's, resume anywhere.

One request per round trip carries a batch of this device's events after the
hub's acknowledged seq and asks for the town's events after the pull cursor;
the sealed answer holds the hub's cursor for this device and a page of events.
The cursors move only on an answer signed by the hub, in the same transaction
that applies what was pulled, so a cut at any byte or a kill at any moment
leaves the branch where the next run resumes.

A run has a deadline (``DEADLINE``, ``thuvien sync now --deadline``). Within it a
connection that is cut fails at once and one that stalls fails after the time its
bytes need on the slowest expected link (sync.link); either is retried after a short
back-off, and a round that completes resets the count, so a long sync over a link that
keeps dropping still finishes in one run.
"""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import datetime, timezone

import requests

from appliance.core import clockfix, events
from appliance.core.errors import N_, DomainError
from provisioning import config, health, window

from . import answer, certs, envelope, fetch, files, keys, link, protocol, suggestions
from .models import get_state, set_state

log = logging.getLogger("thuvien.sync")

BATCH = 500
PULL_LIMIT = 1000
MAX_ROUNDS = 200
DEADLINE = 600.0  # s: a run stops here; what it did is kept and the next one goes on
RETRIES = 5  # cut or stalled connections in a row, no round completed between, before giving up


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_once(ctx, session: requests.Session | None = None, url: str | None = None,
             batch: int = BATCH, deadline: float = DEADLINE, files: bool = True) -> dict:
    """One complete sync within ``deadline`` seconds; raises SyncError (and records it)
    when it cannot finish. A cut or stalled connection is retried within the run. With
    ``files``, the digital library's files follow the events (sync.files)."""
    if getattr(ctx, "practice", False):  # a practice copy (core/training) never syncs
        raise failure("practice", "A practice copy never syncs.")
    set_state(last_attempt=_now())
    try:
        result = _run(ctx, session, url, batch, link.Deadline(deadline), files)
    except protocol.SyncError as exc:
        # a run stopped at its deadline after rounds went through is progress, not a
        # failure: the scheduler comes back at its interval, not after a back-off
        partial = getattr(exc, "progress", False)
        set_state(last_error=f"{exc.code}: {exc.message}",
                  failures=0 if partial else (get_state("failures", 0) or 0) + 1)
        log.warning("sync: %s: %s", exc.code, exc.message)
        raise
    finally:
        _hand_back_updates(ctx)
    set_state(last_success=_now(), last_error=None, failures=0)
    certs.renew_if_due(ctx)  # the TLS certificate, before it runs out (never fails a sync)
    return result


def _hand_back_updates(ctx) -> None:
    """Once the update window is open, the updates kept for it go back to the update
    (sync.fetch.release_waiting): after the run, hub or no hub, since the update stops
    sync while it migrates (provisioning/updates.Services) and would cut this run."""
    if ctx.data_dir is not None:  # (a device's: the folder its updates come to)
        fetch.release_waiting(ctx.data_dir, window.asker(ctx.settings))


def failure(code: str, msgid: str, **params) -> protocol.SyncError:
    """A SyncError whose message staff can read in their language: ``msgid`` and
    ``params`` are kept for the console and the desk (``describe``). A parameter may
    itself be a message, as ``(msgid, params)``."""
    exc = protocol.SyncError(code, render(msgid, params))
    exc.msgid, exc.params = msgid, params
    return exc


def render(msgid: str, params: dict, translate=lambda m: m) -> str:
    done = {k: render(*v, translate) if isinstance(v, tuple) else v for k, v in params.items()}
    text = translate(msgid)
    return text % done if done else text


def describe(exc: protocol.SyncError, translate=lambda m: m) -> str:
    """A failed run's message through ``translate`` (gettext at the desk, the catalogue
    at the console); refusals the hub worded are given as they came."""
    if hasattr(exc, "msgid"):
        return render(exc.msgid, exc.params, translate)
    return exc.message


class _LinkFailure(Exception):
    """The connection was cut or stalled: worth another try within the run."""

    def __init__(self, msgid: str, **params):
        super().__init__(render(msgid, params))
        self.msgid, self.params = msgid, params


def _run(ctx, session, url, batch, deadline: link.Deadline, with_files: bool) -> dict:
    protocol.hub_peer(ctx.settings)  # not enrolled: said before anything else
    base = url or ctx.settings["sync"]["hub_url"]
    keys.finish_promotion(ctx.data_dir)
    own = session is None
    session = session or certs.hub_session(ctx)  # pins the town CA kept at enrolment
    run = _Run(ctx, session, base, batch, deadline)
    try:
        result = run.go()
        if with_files:
            result["files"] = files.exchange(ctx, run)
            set_state(files=result["files"])
        return result
    except link.DeadlinePassed:
        exc = failure("deadline", N_("Sync stopped at its deadline of %(seconds)s s; what was "
                                     "done is kept and the next run goes on from there."),
                      seconds=round(deadline.seconds))
        exc.progress = run.rounds > 0
        raise exc from None
    finally:
        if own:
            session.close()


class _Run:
    """The rounds of one run, and the retries of the ones the link cut."""

    def __init__(self, ctx, session, base, batch, deadline):
        self.ctx, self.session, self.base, self.batch, self.deadline = (ctx, session, base,
                                                                       batch, deadline)
        self.url = base + protocol.PATH
        self.hub = protocol.hub_peer(ctx.settings)
        self.mine = keys.load(ctx.data_dir)
        self.link = link.Link.from_settings(ctx.settings)
        self.pushed = self.pulled = self.retries = self.failures = self.rounds = 0
        # The hub's time as an unsigned refusal said it (`future`): how far off this
        # clock is, for one round that sends no events, whose signed answer tells it
        # for sure (clockfix.learn). Never trusted for more.
        self.hint_ms: int | None = None
        self.probed = False

    def go(self) -> dict:
        for _ in range(MAX_ROUNDS):
            done = self._round()
            if done is not None:
                return done
        raise failure("too_many_rounds", N_("Sync did not finish; it goes on next run."))

    def _round(self) -> dict | None:
        ctx = self.ctx
        acked = get_state("acked_seq", 0) or 0
        pull_after = get_state("pull_after", 0) or 0
        probe = self.hint_ms is not None
        outgoing = [] if probe else [events.to_dict(e) for e in
                                     events.since(ctx.origin, acked, self.batch)]
        # health as it will stand once this batch is accepted: the fleet page's figures
        report = health.report(ctx, outgoing[-1]["seq"] if outgoing else acked)
        meta = {"pull_after": pull_after, "pull_limit": PULL_LIMIT, "health": report,
                "suggest": suggestions.have()}
        new_keys = keys.load_next(ctx.data_dir)
        if new_keys is not None:  # a rotation: announced in a batch the old key signs
            meta["rotate"] = keys.rotation_proof(ctx.origin, new_keys)
        # sealed afresh each round: a retry after a lost answer is a new batch, which the
        # hub takes (skipping what it holds) instead of refusing it as a replay
        created = ctx.clock.raw_ms() + self.hint_ms if probe else ctx.clock.wall_ms()
        data = protocol.seal_payload(meta, outgoing, sender=ctx.origin, sign_key=self.mine.sign,
                                     recipient=self.hub, created_ms=created)
        sent_ms = ctx.clock.raw_ms()
        try:
            reply, incoming = self._exchange(data)
        except _LinkFailure as exc:
            self._retry_later(exc)
            return None
        except protocol.SyncError as exc:
            if exc.code != "future" or self.probed or not isinstance(
                    getattr(exc, "hub_ms", None), int):
                raise
            self.probed = True  # once per run: a second refusal is said as it is
            self.hint_ms = exc.hub_ms - ctx.clock.raw_ms()
            log.warning("sync: the hub refused events from the future; its clock is %.0f s "
                        "ahead of this one's; asking it for its time", self.hint_ms / 1000)
            return None
        received_ms = ctx.clock.raw_ms()
        self.hint_ms = None
        self.failures = 0
        self.rounds += 1
        if reply is None:
            return None  # the hub told us to resend from an earlier seq
        _apply(ctx, reply, incoming, after=pull_after, acked=acked)
        if isinstance(reply.get("hub_ms"), int):  # signed: how far off this clock is
            self._learn_time(reply, sent_ms, received_ms)
        if new_keys is not None and reply.get("rotated") is True:
            keys.promote(ctx.data_dir)
            self.mine = keys.load(ctx.data_dir)
            set_state(keys_rotated=_now())
            log.info("sync: the hub holds this device's new keys; the old ones retire")
        if isinstance(reply.get("config"), dict):
            apply_config(ctx, reply["config"])
        suggestions.take(ctx, reply.get("suggest"))  # after the events, like software
        offer = reply.get("update") if isinstance(reply.get("update"), dict) else None
        self.pushed += reply.get("applied", 0)
        self.pulled += len(incoming)
        if reply.get("more") or events.pending_count(ctx.origin, reply["cursor"]) != 0:
            return None
        result = {"pushed": self.pushed, "pulled": self.pulled, "cursor": reply["cursor"],
                  "pull_after": reply["next"], "retries": self.retries}
        if offer is not None:  # after the events: software never delays a loan
            result["update"] = fetch.fetch_offer(ctx, self.session, self.base, offer,
                                                 deadline=self.deadline, link_=self.link)
        return result

    def _learn_time(self, reply: dict, sent_ms: int, received_ms: int) -> None:
        learned = clockfix.learn(self.ctx, reply["hub_ms"], sent_ms, received_ms,
                                 reply["cursor"])
        if learned["restamped"]:
            log.warning("sync: this device's clock is %.0f s off the hub's; %s events it "
                        "stamped in the future were stamped again", learned["offset_ms"] / 1000,
                        learned["restamped"])

    def _retry_later(self, exc: _LinkFailure) -> None:
        self.failures += 1
        self.retries += 1
        if self.failures > RETRIES:
            raise failure("unreachable", N_("The link to the hub failed %(count)s times in a "
                                            "row; the last time: %(reason)s"),
                          count=self.failures, reason=(exc.msgid, exc.params))
        wait = link.backoff_s(self.failures)
        log.info("sync: %s; trying again in %.1f s", exc, wait)
        self.deadline.sleep(wait)

    def post_retrying(self, data: bytes, url: str) -> tuple[int, bytes]:
        """One request to ``url``, tried again (with the back-off) while the link cuts it."""
        while True:
            try:
                return self._post(data, url)
            except _LinkFailure as exc:
                self._retry_later(exc)

    def _exchange(self, data: bytes):
        status, body = self._post(data)
        if status != 200:
            return _refused(status, body), []
        hub, me = self.hub, self.ctx.origin
        try:
            env = envelope.parse(body)
            if env.header.sender != hub.id:
                raise envelope.EnvelopeError("wrong_sender", f"answer from {env.header.sender!r}")
            envelope.verify(env, keys.sign_public_from(hub.sign_key))
            reply, incoming = protocol.open_payload(env, me=me, box_key=self.mine.box)
        except envelope.EnvelopeError as exc:
            raise protocol.SyncError("bad_answer", f"{exc.code}: {exc.reason}") from exc
        batch_hex = envelope.parse(data).header.batch_hex
        if reply.get("batch") != batch_hex or not isinstance(reply.get("cursor"), int):
            raise protocol.SyncError("bad_answer", "the answer is not for the batch sent")
        return reply, incoming

    def _post(self, data: bytes, url: str | None = None) -> tuple[int, bytes]:
        """One request; a cut fails at once, silence fails after the time the request
        needs to cross the slowest link and the hub to work on it."""
        wait = self.link.answer_wait_s(len(data))
        timeout = (self.deadline.bound(link.CONNECT_S), self.deadline.bound(wait))
        try:
            with self.session.post(url or self.url, data=data, timeout=timeout, stream=True,
                                   headers={"Content-Type": "application/octet-stream"}) as resp:
                return resp.status_code, self._body(resp)
        except requests.ConnectTimeout:
            self.deadline.check()
            raise _LinkFailure(N_("no connection to the hub within %(seconds)s s"),
                               seconds=round(timeout[0], 1)) from None
        except requests.Timeout:
            self.deadline.check()
            raise _LinkFailure(N_("no byte came from the hub for %(seconds)s s"),
                               seconds=round(timeout[1], 1)) from None
        except requests.exceptions.SSLError as exc:
            if "CERTIFICATE" not in str(exc).upper():  # a handshake cut short: a bad link
                self.deadline.check()
                raise _LinkFailure(_cut_reason(exc)) from None
            # the hub is not who it says (not signed by the town's CA): no retry will help
            raise failure("untrusted_hub", N_("The hub's certificate is not one the town's "
                                              "certificate authority signed: %(reason)s"),
                          reason=str(exc)) from exc
        except CUT as exc:
            self.deadline.check()
            raise _LinkFailure(_cut_reason(exc)) from None
        except requests.RequestException as exc:  # a wrong address, not a bad link
            raise failure("unreachable", N_("The hub did not answer: %(reason)s"),
                          reason=str(exc)) from exc

    def _body(self, resp) -> bytes:
        """The answer, as long as it keeps coming at the slowest expected speed."""
        try:
            length = int(resp.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        allowed = self.link.crossing_s(max(length, 1 << 16))
        start, body = time.monotonic(), bytearray()
        for chunk in resp.iter_content(1 << 14):
            body += chunk
            self.deadline.check()
            if time.monotonic() - start > allowed:
                raise _LinkFailure(N_("the answer came slower than the slowest expected link"))
        return bytes(body)


CUT = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
       requests.exceptions.ContentDecodingError)


def _cut_reason(exc: Exception) -> str:
    text = repr(exc).lower()
    if "refused" in text:
        return N_("the hub refused the connection")
    if "reset" in text:
        return N_("the connection was reset")
    return N_("the connection was closed mid-transfer")


def _refused(status: int, body: bytes):
    """Unsigned answers may only send us back to resend more, never skip ahead."""
    try:
        err = json.loads(body)["error"]
        code, message = str(err["code"]), str(err.get("message", ""))
    except (ValueError, KeyError, TypeError):
        raise protocol.SyncError("http_error", f"HTTP {status}") from None
    cursor = err.get("cursor")
    if code in ("gap", "replay") and answer.rewind(cursor):
        return None
    exc = protocol.SyncError(code, message, cursor)
    exc.hub_ms = err.get("hub_ms")  # unsigned: only ever a hint (_Run.hint_ms)
    raise exc


def _apply(ctx, reply: dict, incoming: list[dict], after: int, acked: int) -> None:
    """The answer through the one applier (sync.answer) the USB stick also uses."""
    try:
        answer.apply(ctx, reply, incoming, after=after)
    except DomainError as exc:
        raise protocol.SyncError(exc.code, f"pulled events refused: {exc}") from exc
    if reply["cursor"] < acked:  # this very batch's answer: the hub holds less than it did
        answer.rewind(reply["cursor"])


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
