"""Sync's own tables: the hub's device registry, enrolment tokens and received
batches, and the branch's cursors. Local bookkeeping, never replicated."""

import peewee as pw

from appliance.core import db as coredb
from appliance.core.authority import Quarantine
from appliance.core.models import BaseModel, JSONField


class Device(BaseModel):
    """A branch appliance the hub knows, with the public keys it made itself."""

    id = pw.CharField(primary_key=True, max_length=64)
    library = pw.CharField(max_length=32, index=True)
    sign_key = pw.CharField(max_length=64)
    box_key = pw.CharField(max_length=64)
    status = pw.CharField(max_length=16, default="active")  # active, revoked
    enrolled_at = pw.CharField(max_length=32)
    last_seen = pw.CharField(max_length=32, null=True)
    last_error = pw.TextField(null=True)
    pull_after = pw.BigIntegerField(default=0)  # what the device said it holds (USB export)


class EnrolToken(BaseModel):
    """A one-time, expiring token; only its hash is kept."""

    token_hash = pw.CharField(primary_key=True, max_length=64)
    library = pw.CharField(max_length=32)
    created_at = pw.CharField(max_length=32)
    expires_ms = pw.BigIntegerField()
    used_by = pw.CharField(max_length=64, null=True)


class SyncBatch(BaseModel):
    """Every sealed batch accepted, by id: a second arrival is a replay."""

    batch_id = pw.CharField(primary_key=True, max_length=32)
    sender = pw.CharField(max_length=64, index=True)
    first_seq = pw.BigIntegerField()
    last_seq = pw.BigIntegerField()
    received_at = pw.CharField(max_length=32)
    applied = pw.IntegerField(default=0)


class SyncRefusal(BaseModel):
    """Refused batches, for staff: who, when, why."""

    at = pw.CharField(max_length=32)
    sender = pw.CharField(max_length=64, null=True)
    code = pw.CharField(max_length=32)
    reason = pw.TextField()


class SyncState(BaseModel):
    """Branch-side cursors and status: acked_seq, pull_after, last_success, last_error..."""

    key = pw.CharField(primary_key=True, max_length=32)
    value = JSONField(null=True)


class RetiredKey(BaseModel):
    """A device's keys before a rotation, still accepted until ``until_ms`` (the overlap)."""

    device = pw.CharField(max_length=64, index=True)
    sign_key = pw.CharField(max_length=64)
    box_key = pw.CharField(max_length=64)
    retired_at = pw.CharField(max_length=32)
    until_ms = pw.BigIntegerField()


class FileHeld(BaseModel):
    """Branch-side memory of the digital library's files (sync.files): a master the hub
    said it holds (``master``, by checksum) or a thumbnail kept here (``thumb``, by page)."""

    kind = pw.CharField(max_length=8)
    key = pw.CharField(max_length=80)

    class Meta:
        primary_key = pw.CompositeKey("kind", "key")


class FileFailure(BaseModel):
    """Branch-side memory of a file that failed its check where it arrived (sync.failed_files):
    ``down`` a copy's PDF fetched from the hub, ``up`` a master the hub refused. What was
    expected (``expected``: the size and the events that asked for it), why it failed,
    how many times in a row, and when it is tried again (``retry_ms``, town time). A copy
    the hub does not hold yet is kept too (``missing``, since ``failed_ms``), never held back."""

    direction = pw.CharField(max_length=4)
    sha256 = pw.CharField(max_length=64)
    expected = pw.TextField()
    reason = pw.CharField(max_length=16)  # checksum, size, refused; missing (not a fault)
    detail = pw.TextField(null=True)
    failures = pw.IntegerField(default=1)
    failed_ms = pw.BigIntegerField()
    retry_ms = pw.BigIntegerField()

    class Meta:
        primary_key = pw.CompositeKey("direction", "sha256")


class DeviceRouting(BaseModel):
    """The hub's memory of which routing a device has pulled under (receive.ROUTING): an
    older one still has the events a newer routing adds below its cursor coming, sent
    with its pulls (``sent_at``: its cursor then) until its cursor moves past them."""

    device = pw.CharField(primary_key=True, max_length=64)
    version = pw.IntegerField(default=0)
    sent_at = pw.BigIntegerField(null=True)


MODELS = (Device, EnrolToken, SyncBatch, SyncRefusal, SyncState, RetiredKey, FileHeld,
          FileFailure, DeviceRouting)
coredb.register_models(*MODELS)


def ensure_tables(db) -> None:
    """For a database opened before this module was imported (with the hub's quarantine
    of events its authority check refused, kept in core beside the log it qualifies)."""
    db.create_tables((*MODELS, Quarantine), safe=True)


def get_state(key, default=None):
    row = SyncState.get_or_none(SyncState.key == key)
    return default if row is None else row.value


def set_state(**values):
    for key, value in values.items():  # upsert that SQLite and PostgreSQL both speak
        SyncState.insert(key=key, value=value).on_conflict(
            conflict_target=[SyncState.key], update={SyncState.value: value}).execute()


def status_dict():
    keys = ("acked_seq", "pull_after", "last_success", "last_attempt", "last_error", "failures",
            "config_error", "config_applied", "update_fetched", "update_error", "files")
    return {k: get_state(k) for k in keys}
