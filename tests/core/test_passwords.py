"""scrypt at production cost by default; the tests' cheap cost is set only by conftest."""

import subprocess
import sys

from appliance.core import passwords, users
from appliance.core.models import User


def _params(stored):
    algo, n, r, p, _salt, _digest = stored.split("$")
    return algo, int(n), int(r), int(p)


def test_the_appliance_hashes_at_production_cost():
    # a fresh interpreter: what `thuvien serve` and the CLI get
    code = ("from appliance.core import passwords\n"
            "print(passwords.hash_secret('mat-khau-thu-vien'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert _params(out) == ("scrypt", 2**14, 8, 1)
    assert passwords.PRODUCTION_COST == (2**14, 8, 1)  # ~16 MB per guess: keep it there
    assert passwords.check_secret("mat-khau-thu-vien", out)


def test_hashes_made_at_either_cost_verify(monkeypatch):
    monkeypatch.setattr(passwords, "cost", passwords.PRODUCTION_COST)
    strong = passwords.hash_secret("1234")
    monkeypatch.setattr(passwords, "cost", passwords.TEST_COST)
    cheap = passwords.hash_secret("1234")
    assert _params(strong)[1:] == passwords.PRODUCTION_COST
    assert _params(cheap)[1:] == passwords.TEST_COST
    for stored in (strong, cheap):
        assert passwords.check_secret("1234", stored)
        assert not passwords.check_secret("1235", stored)
        assert not passwords.check_secret("", stored)


def test_a_staff_account_made_at_production_cost_logs_in(ctx, monkeypatch):
    monkeypatch.setattr(passwords, "cost", passwords.PRODUCTION_COST)
    users.create(ctx, "thuthu2", "mat-khau-moi-1", "librarian")
    stored = User.get(User.username == "thuthu2").password_hash
    assert _params(stored)[1:] == passwords.PRODUCTION_COST
    monkeypatch.setattr(passwords, "cost", passwords.TEST_COST)
    assert users.authenticate(ctx, "thuthu2", "mat-khau-moi-1").username == "thuthu2"


def test_malformed_stored_hashes_do_not_verify():
    for stored in ("", "scrypt$x$8$1$AAAA$AAAA", "plain", None):
        assert not passwords.check_secret("1234", stored)
