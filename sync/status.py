"""What staff see of sync: pending events, last success, last error, the certificate,
and whether this device's clock is off the hub's."""

from appliance.core import clockfix, events
from appliance.core.errors import N_

from . import pki
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
