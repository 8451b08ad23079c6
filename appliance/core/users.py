"""Staff and kiosk accounts of this device (local: not replicated state), and the logins
made with them: each session cookie and API token is a row here, so logging out,
disabling or deleting an account ends it at once."""

import functools
import hashlib
import re
import secrets
import time

from . import audit, passwords
from .errors import N_, Forbidden, Invalid, NotFound
from .models import AuditLog, LoginSession, User

ROLES = ("patron", "kiosk", "librarian", "branch_admin", "hub_admin", "report_viewer")
USERNAME_RE = re.compile(r"^[a-z0-9_.-]{2,64}$")
MIN_PASSWORD = passwords.MIN_PASSWORD


def create(ctx, username, password, role, library=None):
    if not USERNAME_RE.match(username or ""):
        raise Invalid("bad_username", N_("A user name is 2 to 64 lower-case letters, digits, "
                                         "dots, dashes or underscores."))
    if role not in ROLES or role == "patron":
        raise Invalid("bad_role", N_("Unknown role: %(role)s."), role=role)
    check_password(password, username)
    if User.get_or_none(User.username == username):
        raise Invalid("user_exists", N_("User %(username)s already exists."), username=username)
    return User.create(username=username, password_hash=passwords.hash_secret(password),
                       role=role, library=library or ctx.library)


def check_password(password, username=""):
    if len(password or "") < MIN_PASSWORD:
        raise Invalid("weak_password", N_("A password has at least %(n)s characters."),
                      n=MIN_PASSWORD)
    if passwords.too_common(password, username):
        raise Invalid("common_password", N_("This password is one of the most common ones "
                                            "and easy to guess. Choose another."))


def authenticate(ctx, username, password, client=None):
    """The account, or Forbidden. Wrong tries wait longer and longer per name and client
    address (passwords.failed); a name that does not exist is counted, timed and
    answered exactly like one that does, so nobody learns which names exist."""
    name = (username or "").strip()
    pair = f"login|{name.casefold()[:64]}|{client or '-'}"
    # with no address (a caller that has none to give) there is no per-client count:
    # one misconfigured machine must not make every other one wait
    alone = f"login-client|{client}" if client else None
    wait = max(passwords.wait_left(pair), passwords.wait_left(alone) if alone else 0)
    if wait:
        raise Forbidden("login_wait", N_("Too many failed logins from here. Try again in "
                                         "%(seconds)s seconds."), seconds=wait)
    user = User.get_or_none((User.username == name) & User.active)
    stored = user.password_hash if user is not None else _dummy()
    if not passwords.check_secret(password or "", stored) or user is None:
        passwords.failed(pair)
        if alone:
            passwords.failed(alone, passwords.CLIENT_FREE_FAILURES)
        raise Forbidden("bad_login", N_("Wrong user name or password."))
    passwords.succeeded(pair)
    return user


@functools.lru_cache(maxsize=1)
def _dummy():
    return passwords.hash_secret("not a password")


def _get(username):
    user = User.get_or_none(User.username == username)
    if user is None:
        raise NotFound("user_not_found", N_("No account named %(username)s."), username=username)
    return user


def set_active(ctx, username, active):
    """Disable (ending every session and token at once) or enable an account."""
    user = _get(username)
    User.update(active=bool(active)).where(User.username == username).execute()
    if not active:
        revoke(username)
    return user


def delete(ctx, username):
    _get(username)
    with ctx.transaction():
        revoke(username)
        User.delete().where(User.username == username).execute()


# Logins. The cookie or token holds a random key; the database holds its SHA-256 (a copy
# of the database opens no session), who it is for and when it ends.

def _digest(key):
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def open_login(subject, kind, lifetime, now=None):
    """A new session ("session") or API token ("token") for `subject`; returns its key."""
    now = now or time.time()
    LoginSession.delete().where(LoginSession.expires_at < now).execute()
    key = secrets.token_urlsafe(32)
    LoginSession.create(key_hash=_digest(key), subject=subject, kind=kind,
                        expires_at=now + lifetime)
    return key


def login_identity(key, kind, now=None):
    """{"username", "role"} behind a live login, or None: one lookup by primary key, and
    one more for a staff account, which must still exist and be active; the role is the
    account's now, not the one it had at login."""
    if not key or not isinstance(key, str) or len(key) > 128:
        return None
    row = LoginSession.get_or_none(LoginSession.key_hash == _digest(key))
    if row is None or row.kind != kind or row.expires_at < (now or time.time()):
        return None
    if row.subject.startswith("patron:"):
        return {"username": row.subject, "role": "patron"}
    user = User.get_or_none((User.username == row.subject) & User.active)
    return {"username": user.username, "role": user.role} if user else None


def close_login(key):
    if key and isinstance(key, str):
        LoginSession.delete().where(LoginSession.key_hash == _digest(key)).execute()


def revoke(subject):
    """End every session and token of an account (or "patron:<card>")."""
    return LoginSession.delete().where(LoginSession.subject == subject).execute()


# Accounts managed by an administrator (the desk's Staff page; the command line acts as
# the machine's owner and is not checked). A branch admin manages the accounts of their
# own library, never one whose role is above theirs, and gives no role above theirs; a
# hub admin manages every library's. Accounts are this device's, as the command line
# makes them: nothing here syncs. Each change is written to the audit log.

RANK = {"kiosk": 1, "report_viewer": 1, "librarian": 2, "branch_admin": 3, "hub_admin": 4}
MANAGERS = ("branch_admin", "hub_admin")
ACCOUNT_ACTIONS = ("account.added", "account.password", "account.disabled",
                   "account.enabled", "account.role")


def _manager(actor):
    user = User.get_or_none((User.username == (actor or "")) & User.active)
    if user is None or user.role not in MANAGERS:
        raise Forbidden("not_admin", N_("Only a branch or hub administrator manages "
                                        "accounts."))
    return user


def manageable(actor):
    """The accounts `actor` may see and manage, by library then name."""
    manager = _manager(actor)
    query = User.select().order_by(User.library, User.username)
    if manager.role != "hub_admin":
        query = query.where(User.library == manager.library)
    return list(query)


def grantable(actor):
    """The roles `actor` may give: none above their own."""
    manager = _manager(actor)
    return [r for r in ROLES if r != "patron" and RANK[r] <= RANK[manager.role]]


def _may_touch(manager, user):
    if manager.role != "hub_admin" and user.library != manager.library:
        raise Forbidden("other_library_account", N_(
            "Account %(username)s belongs to library %(library)s: only its administrators "
            "or the hub manage it."), username=user.username, library=user.library)
    if RANK.get(user.role, 0) > RANK[manager.role]:
        raise Forbidden("account_above_you", N_(
            "Account %(username)s has a higher role than yours: you cannot change it."),
            username=user.username)


def _may_grant(manager, role):
    if role not in ROLES or role == "patron":
        raise Invalid("bad_role", N_("Unknown role: %(role)s."), role=role)
    if RANK[role] > RANK[manager.role]:
        raise Forbidden("role_above_you", N_("You cannot give a role above your own."))


def _not_yourself(manager, user):
    if user.username == manager.username:
        raise Forbidden("own_account", N_("You cannot disable your own account or change "
                                          "your own role: ask another administrator."))


def add_account(ctx, actor, username, password, role, library=None):
    manager = _manager(actor)
    _may_grant(manager, role)
    library = library or manager.library
    if manager.role != "hub_admin" and library != manager.library:
        raise Forbidden("other_library_account", N_(
            "Account %(username)s belongs to library %(library)s: only its administrators "
            "or the hub manage it."), username=username, library=library)
    user = create(ctx, (username or "").strip(), password, role, library)
    audit.log_local(manager.username, "account.added", user.username, f"{role} {library}")
    return user


def reset_password(ctx, actor, username, password):
    """A new password (the same strength rules as everywhere); every login of the
    account ends, so the old password's sessions stop at once."""
    manager, user = _manager(actor), _get(username)
    _may_touch(manager, user)
    check_password(password, user.username)
    User.update(password_hash=passwords.hash_secret(password), failures=0,
                locked_until=0).where(User.username == user.username).execute()
    revoke(user.username)
    audit.log_local(manager.username, "account.password", user.username)
    return _get(username)


def change_active(ctx, actor, username, active):
    manager, user = _manager(actor), _get(username)
    _may_touch(manager, user)
    _not_yourself(manager, user)
    set_active(ctx, username, active)
    audit.log_local(manager.username, "account.enabled" if active else "account.disabled",
              user.username)
    return _get(username)


def change_role(ctx, actor, username, role):
    manager, user = _manager(actor), _get(username)
    _may_touch(manager, user)
    _not_yourself(manager, user)
    _may_grant(manager, role)
    User.update(role=role).where(User.username == user.username).execute()
    audit.log_local(manager.username, "account.role", user.username, f"{user.role} → {role}")
    return _get(username)


def account_log(actor, limit=100):
    """What administrators did to the accounts `actor` may manage, newest first."""
    names = [u.username for u in manageable(actor)]
    return list(AuditLog.select().where((AuditLog.action << ACCOUNT_ACTIONS)
                                        & (AuditLog.target << names))
                .order_by(AuditLog.id.desc()).limit(limit)) if names else []
