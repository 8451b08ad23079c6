"""Staff and kiosk accounts of this device (local: not replicated state)."""

import functools
import re

from . import passwords
from .errors import N_, Forbidden, Invalid
from .models import User

ROLES = ("patron", "kiosk", "librarian", "branch_admin", "hub_admin", "report_viewer")
USERNAME_RE = re.compile(r"^[a-z0-9_.-]{2,64}$")
MIN_PASSWORD = 8


def create(ctx, username, password, role, library=None):
    if not USERNAME_RE.match(username or ""):
        raise Invalid("bad_username", N_("A user name is 2 to 64 lower-case letters, digits, "
                                         "dots, dashes or underscores."))
    if role not in ROLES or role == "patron":
        raise Invalid("bad_role", N_("Unknown role: %(role)s."), role=role)
    if len(password or "") < MIN_PASSWORD:
        raise Invalid("weak_password", N_("A password has at least %(n)s characters."),
                      n=MIN_PASSWORD)
    if User.get_or_none(User.username == username):
        raise Invalid("user_exists", N_("User %(username)s already exists."), username=username)
    return User.create(username=username, password_hash=passwords.hash_secret(password),
                       role=role, library=library or ctx.library)


def authenticate(ctx, username, password):
    user = User.get_or_none((User.username == (username or "").strip()) & User.active)
    if user is None:
        passwords.check_secret(password or "", _dummy())  # same time as a real check
        raise Forbidden("bad_login", N_("Wrong user name or password."))
    if passwords.locked(user):
        raise Forbidden("account_locked", N_("Too many failed logins. Try again in 15 minutes."))
    if not passwords.check_secret(password or "", user.password_hash):
        passwords.register_failure(user)
        raise Forbidden("bad_login", N_("Wrong user name or password."))
    passwords.register_success(user)
    return user


@functools.lru_cache(maxsize=1)
def _dummy():
    return passwords.hash_secret("not a password")
