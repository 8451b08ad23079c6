"""What staff see of sync: pending events, last success, last error, the certificate,
whether this device's clock is off the hub's, and the files that failed their check or
that the hub has not had for too long (its copy is late, the other library's fault)."""

from appliance.core import clockfix, events
from appliance.core.errors import N_
from appliance.core.models import DigitalDocument, DigitalPage, Library, RemoteRequest
from appliance.core.requests import copies

from . import failed_files, pki
from .models import Device, SyncRefusal, get_state


def summary(ctx) -> dict:
    acked = get_state("acked_seq", 0) or 0
    conf = ctx.settings.get("sync") or {}
    out = {
        "role": ctx.role,
        "device": ctx.origin,
        "enrolled": bool(conf.get("hub_id")),
        "hub": conf.get("hub_url"),
        "acked_seq": acked,
        "head_seq": events.head(ctx.origin)[0],
        "pending": events.pending_count(ctx.origin, acked),
        "pull_after": get_state("pull_after", 0) or 0,
        "last_success": get_state("last_success"),
        "last_attempt": get_state("last_attempt"),
        "last_error": get_state("last_error"),
        "failures": get_state("failures", 0) or 0,
        "config_version": ctx.settings.get("config_version", 0),
        "config_applied": get_state("config_applied"),
        "config_error": get_state("config_error"),
        "update_fetched": get_state("update_fetched"),
        "update_error": get_state("update_error"),
        "tls": tls(ctx),
        "clock": clock(),
        "files_failed": files_failed(ctx.clock.wall_ms()),
    }
    if ctx.role == "hub":
        out["devices"] = [
            {"id": d.id, "library": d.library, "status": d.status, "last_seen": d.last_seen,
             "last_error": d.last_error, "held_seq": events.head(d.id)[0]}
            for d in Device.select().order_by(Device.library, Device.id)]
        out["refusals"] = [
            {"at": r.at, "sender": r.sender, "code": r.code, "reason": r.reason}
            for r in SyncRefusal.select().order_by(SyncRefusal.id.desc()).limit(20)]
    return out


# What the desk says of a file that failed its check (sync.failed_files): the sentence
# for its direction, and why, in the staff's language (sync.po).
FILE_DOWN = N_("The copy “%(title)s” could not be fetched from the town hub: "
               "%(why)s. It is tried again on %(when)s (%(count)s failed attempts).")
FILE_UP = N_("The file “%(title)s” could not be sent to the town hub: %(why)s. "
             "It is tried again on %(when)s (%(count)s failed attempts).")
FILE_LATE = N_("The copy “%(title)s” (request %(request)s) could not be fetched from the "
               "town hub since %(since)s: %(why)s. %(library)s, the library that attached "
               "it, has not sent it: its device may be off or broken, or may have lost the "
               "file. Please ask them to sync, or to attach the copy again.")
FILE_WHY = {
    ("down", "checksum"): N_("the file the hub sent does not match the checksum (SHA-256) "
                             "the library that made the copy gave, so it was not kept"),
    ("down", "size"): N_("the file at the hub is not the size the library that made the "
                         "copy gave, so it was not kept"),
    ("down", "refused"): N_("the hub refused to send it"),
    ("down", failed_files.MISSING): N_("the hub does not hold it yet"),
    ("up", "checksum"): N_("the hub found it does not match its checksum (SHA-256): the "
                           "file on this device may be damaged, run thuvien verify"),
}


def files_failed(now_ms: int) -> list[dict]:
    """The files that failed their check and wait for their next try, and the copies
    the hub has said are missing for longer than ``copies.LATE_MS`` (one said missing
    for less is on its way: not told), each with the title staff know it by (the copy's
    request, or the document); a late copy with its request and the library that has
    not sent it."""
    out = []
    for row in failed_files.listed():
        late = row["reason"] == failed_files.MISSING
        if late and not copies.late(row["failed_ms"], now_ms):
            continue
        row.update(_named(row["sha256"]))
        row["message"] = FILE_LATE if late else FILE_DOWN if row["direction"] == "down" \
            else FILE_UP
        row["why"] = FILE_WHY.get((row["direction"], row["reason"]), row["reason"])
        out.append(row)
    return out


def file_failure_text(row: dict, translate=lambda m: m) -> str:
    """A file waiting after a failure (``files_failed``) in words, through ``translate``
    (the catalogue at the console; the desk's page words it with its own date format)."""
    return translate(row["message"]) % {
        "title": row["title"], "why": translate(row["why"]), "when": row["retry_at"],
        "count": row["failures"], "request": row["request"], "library": row["library"],
        "since": row["failed_at"]}


def _named(sha: str) -> dict:
    """How staff know a file: a copy's title, its request (the first eight characters
    of its id) and the library that handles it, by name; else the document's title."""
    req = (RemoteRequest.select(RemoteRequest.id, RemoteRequest.title, RemoteRequest.library)
           .where(RemoteRequest.sha256 == sha).order_by(RemoteRequest.placed_hlc).first())
    if req is not None:
        lib = Library.get_or_none(Library.code == req.library)
        return {"title": req.title, "request": req.id[:8],
                "library": f"{lib.name} ({req.library})" if lib and lib.name else req.library}
    return {"title": _title_of(sha), "request": "", "library": ""}


def _title_of(sha: str) -> str:
    doc = (DigitalDocument.select(DigitalDocument.title)
           .join(DigitalPage, on=(DigitalPage.document == DigitalDocument.id))
           .where(DigitalPage.sha256 == sha).first())
    return doc.title if doc is not None else sha[:12]


def tls(ctx) -> dict | None:
    """The certificate this appliance serves HTTPS with: until when, and the last renewal
    error, so staff see an expiry coming before browsers and SIP2 machines refuse it."""
    cert = pki.read_cert(ctx.data_dir, pki.TLS_CERT)
    if cert is None:
        return None
    return {"names": sum(pki.names_of(cert), []),
            "not_after": cert.not_valid_after_utc.isoformat(timespec="seconds"),
            "days_left": pki.days_left(cert), "renewal_error": get_state("tls_error")}


def clock() -> dict:
    """How far this device's clock is off the hub's, as the last signed answer said
    (clockfix): seconds to add to it (negative: it runs ahead), when that was learned,
    and how many events a wrong clock had stamped in the future were stamped again."""
    value = clockfix.held()
    return {"offset_s": round(clockfix.offset_of(value) / 1000),
            "learned_at": value.get("learned_at"), "restamped": value.get("restamped", 0)}


AHEAD = N_("This device's clock runs about %(days)s days %(hours)s hours ahead of the town "
           "hub's. Times are taken from the hub's clock until it is set right: please set "
           "this device's clock.")
BEHIND = N_("This device's clock runs about %(days)s days %(hours)s hours behind the town "
            "hub's. Times are taken from the hub's clock until it is set right: please set "
            "this device's clock.")


def clock_warning(summary: dict, translate=lambda m: m) -> str | None:
    """What staff are told when the clock is off (None when it is not), through
    ``translate`` (gettext at the desk, the catalogue at the console)."""
    offset = (summary.get("clock") or {}).get("offset_s") or 0
    if not offset:
        return None
    hours = round(abs(offset) / 3600)
    return translate(BEHIND if offset > 0 else AHEAD) % {"days": hours // 24,
                                                         "hours": hours % 24}
