"""scrypt password and PIN hashes with a per-secret salt, lock-out bookkeeping, the
growing wait after failed logins, and the list of passwords too common to use."""

import base64
import functools
import gzip
import hashlib
import hmac
import os
import time
from pathlib import Path

from .models import LoginThrottle

# scrypt's (N, r, p). Each hash records its own, so hashes made at any cost verify.
PRODUCTION_COST = (2**14, 8, 1)  # ~16 MB and tens of ms on a Pi: slow for guessing
TEST_COST = (2**4, 1, 1)  # microseconds: test fixtures make a dozen accounts per test
# The one switch: tests/conftest.py sets TEST_COST; the appliance never changes it.
cost = PRODUCTION_COST
MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60


def hash_secret(secret):
    salt = os.urandom(16)
    n, r, p = cost
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return "scrypt$%d$%d$%d$%s$%s" % (n, r, p, base64.b64encode(salt).decode(),
                                      base64.b64encode(digest).decode())


def check_secret(secret, stored):
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(secret.encode("utf-8"), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, AttributeError):
        return False
    return hmac.compare_digest(got, expected)


def locked(row, now=None):
    return row.locked_until > (now or time.time())


def register_failure(row, now=None):
    """Count a failure; lock the account after MAX_FAILURES in a row."""
    now = now or time.time()
    row.failures += 1
    if row.failures >= MAX_FAILURES:
        row.locked_until = now + LOCK_SECONDS
        row.failures = 0
    row.save()


def register_success(row):
    if row.failures or row.locked_until:
        row.failures = 0
        row.locked_until = 0
        row.save()


# The growing wait. Failures are counted per key: an account name (as typed, known or
# not) together with the client's address, and the client's address alone. Someone
# elsewhere who types a name many times slows only their own tries, never the owner at
# their desk; an unknown name is counted and answered exactly like a known one.
FREE_FAILURES = 5  # tries before the first wait, per account and client
CLIENT_FREE_FAILURES = 20  # per client, over every name it tries
PIN_CLIENT_FREE_FAILURES = 10  # wrong PINs per client, over every card it tries
FIRST_WAIT = 30  # seconds; doubled by each further failure
MAX_WAIT = 15 * 60
FORGET_AFTER = 3600  # a quiet hour clears the count


def wait_left(key, now=None):
    """Seconds before `key` may try again (0: now)."""
    row = LoginThrottle.get_or_none(LoginThrottle.key == key[:200])
    if row is None:
        return 0
    return max(0, int(row.wait_until - (now or time.time()) + 0.999))


def failed(key, free=FREE_FAILURES, now=None):
    """Count a failure; past `free` of them each one sets a wait twice the last."""
    now = now or time.time()
    row, _ = LoginThrottle.get_or_create(key=key[:200])
    if now - row.last_failure > FORGET_AFTER:
        row.failures = 0
    row.failures += 1
    row.last_failure = now
    if row.failures >= free:
        row.wait_until = now + min(MAX_WAIT, FIRST_WAIT * 2 ** (row.failures - free))
    row.save()
    if row.failures == 1:  # now and then: drop counts nobody has added to for long
        LoginThrottle.delete().where(LoginThrottle.last_failure < now - FORGET_AFTER).execute()


def succeeded(key):
    LoginThrottle.delete().where(LoginThrottle.key == key[:200]).execute()


# Passwords. At least MIN_PASSWORD characters and not one of the 20,000 most common
# (common_passwords/SOURCE.txt says where the list comes from).
MIN_PASSWORD = 10
COMMON_LIST = Path(__file__).resolve().parent / "common_passwords" / "common-passwords.txt.gz"


@functools.lru_cache(maxsize=1)
def common_passwords():
    with gzip.open(COMMON_LIST, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def too_common(password, username=""):
    """True for a password in the list (ignoring case) or one that is just the name."""
    folded = (password or "").strip().casefold()
    return folded in common_passwords() or folded == (username or "").casefold()
