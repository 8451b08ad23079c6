"""The hub's side of a sealed batch: check everything, apply all or nothing, answer.

Order of checks (the first failure is the reason logged and answered):
parse -> known device -> not revoked -> signature -> approved -> addressed to this hub ->
decrypts -> not from the future -> events are the sender's, consecutive, and as
the header says -> not a replay -> no gap after what the hub holds -> core's
chain checks (hash, fork) while applying. Nothing is written unless all pass.
"""

from __future__ import annotations

import functools
import logging
import operator
import time
from datetime import datetime, timezone

import peewee as pw

from appliance.core import authority, dialect, events, privacy, projector, shelves
from appliance.core.clock import unpack
from appliance.core.errors import DomainError
from appliance.core.models import Event, Fee, Hold, Loan, Patron, RemoteRequest
from appliance.core.requests.states import EVENT_STATE as REQUEST_KINDS
from provisioning import config, health, updates

from . import envelope, keys, protocol, quarantine, suggestions
from .models import Device, DeviceRouting, RetiredKey, SyncBatch, SyncRefusal

log = logging.getLogger("thuvien.sync")

MAX_FUTURE_MS = 24 * 3600 * 1000  # a clock a day ahead is wrong, not early
PULL_LIMIT = 1000
KEY_OVERLAP_HOURS = 72  # how long a device's rotated-away keys are still accepted


class Refusal(Exception):
    """A batch refused as a whole; ``cursor`` tells the sender where the hub stands."""

    def __init__(self, code: str, reason: str, status: int = 400, cursor: int | None = None):
        super().__init__(f"{code}: {reason}")
        self.code, self.reason, self.status, self.cursor = code, reason, status, cursor

    def as_dict(self):
        d = {"code": self.code, "message": self.reason}
        if self.cursor is not None:
            d["cursor"] = self.cursor
        return d


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def exchange(ctx, data: bytes) -> bytes:
    """A branch's sealed push (and pull request) in, the hub's sealed answer out."""
    dev, header, meta, evs = open_batch(ctx, data)
    new_keys = rotation_request(ctx, dev, meta)
    after = _after(meta.get("pull_after"))
    result = accept(ctx, dev, header, evs, report=meta.get("health"), pull_after=after)
    rotated = rotate(ctx, dev, new_keys) if new_keys else False
    pulled, next_pos, more = pull(ctx, dev, after, meta.get("pull_limit"), recorded=True)
    reply = {"batch": header.batch_hex, "cursor": result["cursor"],
             "applied": result["applied"], "skipped": result["skipped"],
             "next": next_pos, "more": more, "hub_ms": int(time.time() * 1000)}
    reply["shelves"] = shelves.offer(dev.library)  # what the branch cannot know itself
    reply.update(offers(ctx, dev, meta.get("health")))
    reply.update(suggestions.offer(ctx, meta))
    if rotated:
        reply["rotated"] = True  # sealed to the key the request came from
    return seal_for(ctx, dev, reply, pulled)


def offers(ctx, dev: Device, report) -> dict:
    """What the hub has for a device beyond events: a newer signed config bundle, and
    the newest offered software update when the device runs an older version."""
    report = report if isinstance(report, dict) else {}
    have = report.get("config_version")
    have = have if isinstance(have, int) and not isinstance(have, bool) else 0
    out = {}
    doc = config.bundle_for(ctx, dev.library, dev.id, have=have)
    if doc is not None:
        out["config"] = doc
    if ctx.data_dir is not None:
        entry = updates.offered(ctx.data_dir, keys.load(ctx.data_dir).sign)
        update = updates.offer_for(entry, dev.library, dev.id, report.get("version"))
        if update is not None:
            out["update"] = {**update, "path": f"{protocol.UPDATES_PATH}/{update['file']}"}
    return out


def seal_for(ctx, dev: Device, meta: dict, evs: list[dict]) -> bytes:
    hub_keys = keys.load(ctx.data_dir)
    return protocol.seal_payload(meta, evs, sender=ctx.origin, sign_key=hub_keys.sign,
                                 recipient=protocol.Peer(dev.id, dev.sign_key, dev.box_key))


def open_batch(ctx, data: bytes):
    """Parse, authenticate and decrypt; refusals are logged with their reason."""
    sender = None
    try:
        env = envelope.parse(data)
        sender = env.header.sender
        dev = Device.get_or_none(Device.id == sender)
        if dev is None:
            raise Refusal("unknown_device", f"device {sender!r} is not enrolled", 403)
        if dev.status == "revoked":
            raise Refusal("revoked_device", f"device {sender!r} is revoked", 403)
        try:
            envelope.verify(env, keys.sign_public_from(dev.sign_key))
        except envelope.EnvelopeError:
            if not _verify_retired(dev, env):
                raise
        if dev.status != "active":  # said only to the device itself, once its signature holds
            raise Refusal("pending_approval",
                          f"device {sender!r} waits for staff approval at the hub", 403)
        meta, evs = protocol.open_payload(env, me=ctx.origin, box_key=keys.load(ctx.data_dir).box)
    except envelope.EnvelopeError as exc:
        raise _logged(ctx, Refusal(exc.code, exc.reason, 400), sender) from exc
    except Refusal as exc:
        raise _logged(ctx, exc, sender) from None
    return dev, env.header, meta, evs


def _verify_retired(dev: Device, env) -> bool:
    """A batch signed with a key the device rotated away from: good during the overlap,
    refused after it. The answer then goes to that key's box key."""
    for old in RetiredKey.select().where(RetiredKey.device == dev.id).order_by(
            RetiredKey.id.desc()):
        try:
            envelope.verify(env, keys.sign_public_from(old.sign_key))
        except envelope.EnvelopeError:
            continue
        if old.until_ms < time.time() * 1000:
            raise Refusal("retired_key", f"device {dev.id!r} signed with a key retired at "
                                         f"the end of its overlap ({old.retired_at})", 403)
        dev.box_key, dev.via_retired = old.box_key, True
        return True
    return False


def rotation_request(ctx, dev: Device, meta: dict) -> dict | None:
    """New public keys a device announces (in a batch its current key signed), checked."""
    if meta.get("rotate") is None:
        return None
    try:
        return keys.check_rotation(dev.id, meta["rotate"])
    except keys.KeyFileError as exc:
        raise _logged(ctx, Refusal("bad_rotation", str(exc), 400), dev.id) from None


def rotate(ctx, dev: Device, new: dict) -> bool:
    """Make the announced keys the device's; the old ones stay valid for the overlap."""
    current = Device.get_by_id(dev.id)
    if (current.sign_key, current.box_key) == (new["sign_key"], new["box_key"]):
        return True  # announced again after a lost answer
    if getattr(dev, "via_retired", False):
        return False  # a new rotation needs the current key
    overlap_ms = float(ctx.settings.get("key_overlap_hours", KEY_OVERLAP_HOURS)) * 3600_000
    with events.writing(ctx):
        RetiredKey.create(device=dev.id, sign_key=current.sign_key, box_key=current.box_key,
                          retired_at=now_iso(), until_ms=int(time.time() * 1000 + overlap_ms))
        Device.update(sign_key=new["sign_key"], box_key=new["box_key"]).where(
            Device.id == dev.id).execute()
    log.info("sync: %s rotated its keys; the old ones are accepted for %.0f h", dev.id,
             overlap_ms / 3600_000)
    return True


def accept(ctx, dev: Device, header, evs: list[dict], report=None, pull_after=None) -> dict:
    """Apply a device's events in one transaction, or refuse the whole batch.

    ``report`` is the device's health (provisioning.health), kept with the batch;
    ``pull_after``, what the device says it holds, is kept in the same transaction."""
    try:
        _check_shape(dev, header, evs)
        rows = projector.footprint(evs)  # batches naming different rows go at once
        with events.ingesting(ctx, rows | {f"device:{dev.id}"} if rows is not None else None):
            held = events.head(dev.id)[0]
            if SyncBatch.get_or_none(SyncBatch.batch_id == header.batch_hex):
                raise Refusal("replay", f"batch {header.batch_hex} was received before", 409,
                              held)
            if evs and header.first_seq > held + 1:
                raise Refusal("gap", f"batch starts at {header.first_seq}, hub holds {held}",
                              409, held)
            try:
                result = quarantine.ingest(ctx, dev, evs, now_iso())  # authority checked
            except DomainError as exc:
                raise Refusal(exc.code, str(exc), 409, held) from exc
            SyncBatch.create(batch_id=header.batch_hex, sender=dev.id,
                             first_seq=header.first_seq, last_seq=header.last_seq,
                             received_at=now_iso(), applied=result["applied"])
            seen = {"last_seen": now_iso(), "last_error": None}
            if pull_after is not None:
                seen["pull_after"] = pull_after
            Device.update(**seen).where(Device.id == dev.id).execute()
            if isinstance(report, dict):
                health.record(dev.id, report)
            cursor = result["heads"].get(dev.id, held)
    except Refusal as exc:
        raise _logged(ctx, exc, dev.id) from None
    if result["applied"]:
        log.info("sync: %s sent %s..%s, applied %s, skipped %s", dev.id, header.first_seq,
                 header.last_seq, result["applied"], result["skipped"])
    return {"cursor": cursor, "applied": result["applied"], "skipped": result["skipped"]}


def _check_shape(dev: Device, header, evs: list[dict]) -> None:
    limit = time.time() * 1000 + MAX_FUTURE_MS
    if header.created_ms > limit:
        raise Refusal("future", f"batch made at {header.created_ms} ms, ahead of the hub clock")
    if not evs:
        if header.first_seq or header.last_seq:
            raise Refusal("bad_batch", "header names events the batch does not hold")
        return
    for i, ev in enumerate(evs):
        if ev.get("origin") != dev.id:
            raise Refusal("foreign_origin",
                          f"event from {ev.get('origin')!r} in a batch from {dev.id!r}", 403)
        if ev.get("seq") != header.first_seq + i:
            raise Refusal("bad_batch", f"event {i} has seq {ev.get('seq')}, "
                                       f"not {header.first_seq + i}")
        if not isinstance(ev.get("hlc"), int) or unpack(ev["hlc"])[0] > limit:
            raise Refusal("future", f"event {dev.id}/{ev.get('seq')} is stamped in the future")
    if evs[-1]["seq"] != header.last_seq:
        raise Refusal("bad_batch", "last seq does not match the header")


# Records every branch needs whatever library made them: the union catalogue's records
# (a branch's copies may belong to any of them), town-wide patron cards (and their
# erasure, so a card goes from every branch that holds it), library names.
TOWN_WIDE = ("bib.saved", "bib.merged", "patron.saved", "patron.erased", "library.saved",
             "item.saved", "item.received", "digital.saved")  # a document's metadata only


HOLD_KINDS = ("hold.placed", "hold.sent", "hold.trapped", "hold.cancelled", "hold.expired",
              "hold.fulfilled", "hold.declined")
LOAN_KINDS = ("loan.out", "loan.renew", "loan.in")


def travelling(library):
    """The events of holds that travel (holds.py) that concern `library` besides its own:
    a hold's events reach the library asked to send its copy (`Hold.source`), and a loan
    made at a pickup library of another library's copy reaches that library's desks
    (`Loan.pickup`), its return too, wherever the copy was handed in: a return that
    names the loan by its id, or one handed in where the loan is not held (naming only
    the copy) that is the return standing for that loan, matched by its copy and clock
    together (two returns of different copies may share a clock). Decided by the hub's
    rows, not by what a sender wrote; few rows, and only the events of those kinds are
    looked into."""
    hold_id, loan_id = _body_text("hold_id"), _body_text("loan_id")
    sent_for = Hold.select(Hold.id).where(Hold.source == library)
    lent_at = Loan.select(Loan.id).where(Loan.pickup == library)
    returned = Loan.select(Loan.return_hlc, Loan.item).where(
        (Loan.pickup == library) & Loan.return_hlc.is_null(False))
    return (((Event.kind << HOLD_KINDS) & hold_id.in_(sent_for))
            | ((Event.kind << LOAN_KINDS) & loan_id.in_(lent_at))
            | ((Event.kind == "loan.in") & loan_id.is_null()
               & pw.Tuple(Event.hlc, _body_text("item_id")).in_(returned)))


FEE_KINDS = ("fee.charged", "fee.paid", "fee.waived")


def owed_at_home(library):
    """The fee events of `library`'s own patrons charged by another library (a town-wide
    card that lost or damaged that library's copy): a patron's home library must know
    what the patron owes in the town, so its desk shows the fee and blocks new loans on
    it as on its own. Decided by the hub's rows — the fee as the hub holds it and the
    home library of its patron's card — never by a library a sender wrote; fees are few,
    so the set asked is small, and only events of the fee kinds are looked into."""
    theirs = Fee.select(Fee.id).join(Patron, on=(Fee.patron == Patron.id)).where(
        (Patron.library == library) & (Fee.library != library))
    return (Event.kind << FEE_KINDS) & _body_text("fee_id").in_(theirs)


def copies_at_home(library):
    """The steps of copies asked by `library`'s own patrons that another library handles
    (a document of another library, asked at the hub or there): the patron looks for the
    request and its PDF in their own library's OPAC account, and its e-mail goes from
    there (sync.files brings the PDF). Copies only: a loan by post is the home library's
    own, its address never goes elsewhere. Decided by the hub's rows, as fees are."""
    theirs = RemoteRequest.select(RemoteRequest.id).join(
        Patron, on=(RemoteRequest.patron == Patron.id)).where(
        (Patron.library == library) & (RemoteRequest.library != library)
        & (RemoteRequest.kind == "copy"))
    return (Event.kind << tuple(REQUEST_KINDS)) & _body_text("request_id").in_(theirs)


def _body_text(key):
    """The text of `key` in an event's body, as dialect.json_text writes it."""
    if dialect.is_postgres(Event._meta.database):
        return pw.NodeList((pw.Cast(Event.body, "jsonb"), pw.SQL(f"->> '{key}'")), glue=" ")
    return pw.fn.json_extract(Event.body, f"$.{key}")


def concerns(library):
    """The events a branch of `library` pulls: its library's own (copies, loans, holds,
    rules, calendar, conflicts resolved), the town-wide records, the steps of holds
    that travel between it and another library, the fees other libraries charged its
    own patrons and the remote copies they asked of another library."""
    return ((Event.library == library) | (Event.kind << TOWN_WIDE) | travelling(library)
            | owed_at_home(library) | copies_at_home(library)) & _shipped()


def _shipped():
    """What the authority check refused reaches no branch, nor the hub's own local chain."""
    return Event.id.not_in(authority.held_back()) & ~Event.origin.endswith(events.LOCAL_SUFFIX)


# What a branch pulls grew with the town's needs. Pulls only move forward, so a device
# that pulled under an older routing would never get the events a newer one adds below
# its cursor: each routing added since it last pulled reaches it once, beside its next
# pulls, until its cursor moves past the pull that carried them (its ingest takes an
# event it holds already as held). A device enrolled since has nothing below its cursor.
# The version, and what each version added:
ROUTING = 2
ADDED = {1: owed_at_home,  # 1: the fees of a library's own patrons charged elsewhere
         2: copies_at_home}  # 2: the copies its patrons asked of another library


def _catch_up(ctx, dev: Device, after: int) -> list:
    """The events routings newer than `dev` has pulled under add at or below `after`.
    A device up to date costs a read: the write lock is taken only to note a change."""
    held = DeviceRouting.get_or_none(DeviceRouting.device == dev.id)
    version = held.version if held is not None else 0
    if version >= ROUTING:
        return []
    if after == 0 or (held is not None and held.sent_at is not None and after > held.sent_at):
        # nothing below its cursor, or it applied a pull that carried them: up to date
        _routed(ctx, dev, ROUTING, None)
        return []
    added = functools.reduce(operator.or_, (ADDED[v](dev.library)
                                            for v in range(version + 1, ROUTING + 1)))
    rows = list(Event.select().where(
        (Event.pos <= after) & (Event.origin != dev.id) & added & _shipped())
        .order_by(Event.pos).limit(PULL_LIMIT))
    _routed(ctx, dev, version, after)
    return rows


def _routed(ctx, dev: Device, version: int, sent_at: int | None) -> None:
    with events.writing(ctx):  # one writer at a time, or SQLite times out under load
        DeviceRouting.insert(device=dev.id, version=version, sent_at=sent_at).on_conflict(
            conflict_target=[DeviceRouting.device],
            update={DeviceRouting.version: version, DeviceRouting.sent_at: sent_at}).execute()


def _after(after) -> int:
    return after if isinstance(after, int) and not isinstance(after, bool) and after >= 0 else 0


def pull(ctx, dev: Device, after, limit, recorded=False) -> tuple[list[dict], int, bool]:
    """What the branch receives: the town's events that concern it, in hub order.

    Other libraries' loans stay at the hub; the branch takes what it gets as relayed
    events (hashes checked, chains not, since they arrive with gaps). Other libraries'
    patron cards come with the lending fields only (privacy.for_branch: the HTTP answer
    and the USB export both page here). ``recorded``: the
    device's ``pull_after`` was kept with its batch already (a transaction saved).
    """
    after = _after(after)
    limit = min(limit if isinstance(limit, int) and limit > 0 else PULL_LIMIT, PULL_LIMIT)
    rows = events.feed(after, limit + 1, where=(Event.origin != dev.id) & concerns(dev.library))
    more = len(rows) > limit
    rows = rows[:limit]
    if not recorded:
        with events.writing(ctx):  # one writer at a time, or SQLite times out under load
            Device.update(pull_after=after).where(Device.id == dev.id).execute()
    missed = _catch_up(ctx, dev, after)
    return ([privacy.for_branch(events.to_dict(r), dev.library) for r in missed + rows],
            (rows[-1].pos if rows else after), more)


def _logged(ctx, exc: Refusal, sender) -> Refusal:
    log.warning("sync: refused batch from %s: %s: %s", sender or "?", exc.code, exc.reason)
    try:
        with events.writing(ctx):
            SyncRefusal.create(at=now_iso(), sender=sender, code=exc.code, reason=exc.reason)
            if sender:
                Device.update(last_error=f"{exc.code}: {exc.reason}").where(
                    Device.id == sender).execute()
    except Exception:  # the refusal stands even if the note cannot be written
        log.exception("sync: could not record refusal")
    return exc
