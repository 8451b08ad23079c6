"""The download link of a copy: signed, for one request and one patron, valid until
the day the request says. The signature proves the link was made here (or at a node
sharing the key); the expiry and the patron are checked against the request itself, so
a link copied to someone else, or kept past its day, opens nothing."""

from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer

from ..errors import N_, Forbidden, Refused

SALT = "thuvien-request-download"


def make(secret, req):
    return URLSafeSerializer(secret, salt=SALT).dumps(
        {"r": req.id, "p": req.patron, "e": req.expires_at})


def check(secret, token, req, patron_id, now):
    """Refuse unless `token` is the link of `req` for `patron_id`, before its expiry at
    `now` (an aware datetime: the clock is the caller's, so a test sets the day)."""
    try:
        data = URLSafeSerializer(secret, salt=SALT).loads(token or "")
    except BadSignature:
        raise Forbidden("bad_link", N_("This download link is not valid."))
    if not isinstance(data, dict) or data.get("r") != req.id:
        raise Forbidden("bad_link", N_("This download link is not valid."))
    if data.get("p") != patron_id or req.patron != patron_id:
        raise Forbidden("not_your_request", N_("This download link belongs to another "
                                               "patron's request."))
    expires = expiry(req)
    if expires is None or now >= expires:
        raise Refused("link_expired", N_(
            "This download link expired on %(day)s. Ask the library to send the copy "
            "again."), day=_dmy(req.expires_at))
    return True


def expiry(req):
    try:
        return datetime.fromisoformat(req.expires_at) if req.expires_at else None
    except ValueError:
        return None


def _dmy(iso):
    return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}" if iso and len(iso) >= 10 else (iso or "")
