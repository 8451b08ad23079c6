"""Every staff read of a patron record is logged (personal data protection)."""

from datetime import datetime, timezone

from .models import AuditLog


def log(username, action, target, detail=None):
    AuditLog.create(at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    username=username or "-", action=action, target=str(target),
                    detail=detail)


def recent(limit=100):
    return list(AuditLog.select().order_by(AuditLog.id.desc()).limit(limit))
