"""What staff see of sync: pending events, last success, last error, the certificate."""

from appliance.core import events

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
