"""scrypt password and PIN hashes with a per-secret salt, and lock-out bookkeeping."""

import base64
import hashlib
import hmac
import os
import time

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
