"""The SMTP server the branch admin configures: host, port, TLS mode, user, password,
sender address, and whether e-mail notices are on. Kept in this device's settings table
(never synced). The password is write-only: `shown` never carries it back."""

from ..errors import N_, Invalid
from . import routing, store

KEY = "notices.smtp"
TLS_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
FIELDS = ("host", "port", "tls", "user", "from_address", "enabled")


def read():
    """The whole configuration, password included (for the sender only)."""
    conf = store.read(KEY, {}) or {}
    conf.setdefault("tls", "starttls")
    conf.setdefault("port", DEFAULT_PORTS[conf["tls"]])
    conf.setdefault("enabled", False)
    return conf


def shown():
    """What a page may show: no password, only whether one is stored."""
    conf = read()
    out = {k: conf.get(k) for k in FIELDS}
    out["has_password"] = bool(conf.get("password"))
    return out


def ready(conf=None):
    conf = conf if conf is not None else read()
    return bool(conf.get("enabled") and conf.get("host") and conf.get("from_address"))


def _port(text, tls):
    text = str(text or "").strip()
    if not text:
        return DEFAULT_PORTS[tls]
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise Invalid("bad_port", N_("The port is a number from 1 to 65535."))
    return port


def save(values, clear_password=False):
    """Save the admin's form. An empty password keeps the stored one."""
    conf = read()
    tls = (values.get("tls") or "starttls").strip()
    if tls not in TLS_MODES:
        raise Invalid("bad_tls", N_("Unknown TLS mode: %(mode)s."), mode=tls)
    host = (values.get("host") or "").strip()
    sender = (values.get("from_address") or "").strip()
    enabled = bool(values.get("enabled"))
    if enabled and not host:
        raise Invalid("smtp_host_required", N_("Give the mail server's name to send e-mail."))
    if (enabled or sender) and not routing.usable(sender):
        raise Invalid("bad_sender", N_("The sender address is not an e-mail address."))
    if any(c in host for c in " /\\@"):
        raise Invalid("bad_host", N_("The mail server is a name or an address, such as "
                                     "smtp.example.vn."))
    conf.update(host=host, port=_port(values.get("port"), tls), tls=tls,
                user=(values.get("user") or "").strip(), from_address=sender, enabled=enabled)
    password = values.get("password") or ""
    if not (password + conf["user"]).isascii():  # what an SMTP login can carry (smtplib)
        raise Invalid("smtp_login_ascii", N_("The mail server's user name and password can "
                                             "only have letters without marks, digits and "
                                             "signs."))
    if clear_password:
        conf.pop("password", None)
    elif password:
        conf["password"] = password
    store.write(KEY, conf)
    return shown()
