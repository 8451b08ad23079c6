"""Staff and kiosk accounts at the desk: every role against every action, allowed or
refused, judged by what the accounts are afterwards (not by the words on the page); the
audit trail on the page; CSRF as every desk form."""

import time

import pytest

from appliance.core import passwords, users
from appliance.core.models import AuditLog, LoginSession, User
from tests.factories import PASSWORD

NEW = "Mật-khẩu-mới-2026"  # long enough, not common


def _client(app, username, role):
    client = app.test_client()
    with client.session_transaction() as s:
        s["csrf"] = "t"
        if username:
            s["sid"] = users.open_login(username, "session", 3600)
            s["user"], s["role"], s["login_at"] = username, role, time.time()
    return client


@pytest.fixture
def town(ctx):
    """Besides the seeded accounts (all of this library): a librarian and an admin of
    another library."""
    users.create(ctx, "khac", PASSWORD, "librarian", "OTHER")
    users.create(ctx, "quanlykhac", PASSWORD, "branch_admin", "OTHER")
    return ctx


def _state(name):
    u = User.get_or_none(User.username == name)
    return None if u is None else (u.role, u.active, u.library)


def _password_is(name, password):
    return passwords.check_secret(password, User.get_by_id(name).password_hash)


# (action, target, form) -> how to tell it was done
ACTIONS = {
    "add_librarian": ("/desk/staff", {"username": "moi", "password": NEW, "role": "librarian"},
                      lambda: _state("moi") is not None),
    "add_hub_admin": ("/desk/staff", {"username": "moi", "password": NEW, "role": "hub_admin"},
                      lambda: _state("moi") is not None),
    "add_in_other_library": ("/desk/staff", {"username": "moi", "password": NEW,
                                             "role": "librarian", "library": "OTHER"},
                             lambda: _state("moi") is not None),
    "reset_own_librarian": ("/desk/staff/thuthu/password", {"password": NEW},
                            lambda: _password_is("thuthu", NEW)),
    "reset_other_library": ("/desk/staff/khac/password", {"password": NEW},
                            lambda: _password_is("khac", NEW)),
    "reset_hub_admin": ("/desk/staff/hub/password", {"password": NEW},
                        lambda: _password_is("hub", NEW)),
    "disable_own_kiosk": ("/desk/staff/kiosk/active", {"active": "0"},
                          lambda: not _state("kiosk")[1]),
    "disable_other_library": ("/desk/staff/khac/active", {"active": "0"},
                              lambda: not _state("khac")[1]),
    "disable_hub_admin": ("/desk/staff/hub/active", {"active": "0"},
                          lambda: not _state("hub")[1]),
    "promote_to_branch_admin": ("/desk/staff/thuthu/role", {"role": "branch_admin"},
                                lambda: _state("thuthu")[0] == "branch_admin"),
    "promote_to_hub_admin": ("/desk/staff/thuthu/role", {"role": "hub_admin"},
                             lambda: _state("thuthu")[0] == "hub_admin"),
    "demote_other_library": ("/desk/staff/quanlykhac/role", {"role": "librarian"},
                             lambda: _state("quanlykhac")[0] == "librarian"),
}
BRANCH_ADMIN_MAY = {"add_librarian", "reset_own_librarian", "disable_own_kiosk",
                    "promote_to_branch_admin"}
# who: (username, role); None: nobody logged in
WHO = {"anonymous": (None, None), "librarian": ("thuthu", "librarian"),
       "kiosk": ("kiosk", "kiosk"), "report_viewer": ("baocao", "report_viewer"),
       "branch_admin": ("quanly", "branch_admin"), "hub_admin": ("hub", "hub_admin")}


def _expected(who, action):
    if who == "hub_admin":  # the town's: every library's accounts, every role
        return True
    return who == "branch_admin" and action in BRANCH_ADMIN_MAY


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("who", sorted(WHO))
def test_every_role_and_action(app, town, who, action):
    url, data, done = ACTIONS[action]
    username, role = WHO[who]
    if who == "hub_admin" and action in ("reset_hub_admin", "disable_hub_admin"):
        username = "hub2"  # another hub admin: one's own account is the next test's
        users.create(town, username, PASSWORD, "hub_admin")
    response = _client(app, username, role).post(url, data={**data, "csrf_token": "t"})
    assert response.status_code in (302, 401, 403), response.status_code
    assert done() == _expected(who, action), (who, action)
    if who in ("anonymous", "librarian", "kiosk", "report_viewer"):
        assert response.status_code in (401, 403) or "/login" in response.location


def test_an_admin_may_not_disable_or_demote_themself(app, town):
    client = _client(app, "quanly", "branch_admin")
    client.post("/desk/staff/quanly/active", data={"active": "0", "csrf_token": "t"})
    client.post("/desk/staff/quanly/role", data={"role": "librarian", "csrf_token": "t"})
    assert _state("quanly") == ("branch_admin", True, town.library)
    page = client.get("/desk/", follow_redirects=True).get_data(as_text=True)
    assert "Bạn không thể khoá tài khoản của chính mình" in page


def test_the_page_lists_only_ones_library_and_shows_the_audit_trail(app, town):
    client = _client(app, "quanly", "branch_admin")
    client.post("/desk/staff/thuthu/password", data={"password": NEW, "csrf_token": "t"})
    client.post("/desk/staff/kiosk/active", data={"active": "0", "csrf_token": "t"})
    html = client.get("/desk/staff").get_data(as_text=True)
    assert "Tài khoản nhân viên" in html and 'id="account-thuthu"' in html
    assert 'id="account-khac"' not in html and 'id="account-quanlykhac"' not in html
    trail = html.split('id="account-log"')[1]
    assert "quanly" in trail and "đặt lại mật khẩu" in trail and "khoá" in trail
    assert [(r.username, r.action, r.target) for r in AuditLog.select().where(
        AuditLog.action.startswith("account.")).order_by(AuditLog.id)] == [
        ("quanly", "account.password", "thuthu"), ("quanly", "account.disabled", "kiosk")]
    hub_page = _client(app, "hub", "hub_admin").get("/desk/staff").get_data(as_text=True)
    assert 'id="account-khac"' in hub_page and 'name="library"' in hub_page


def test_a_reset_ends_the_accounts_logins_and_keeps_the_strength_rules(app, town):
    key = users.open_login("thuthu", "session", 3600)
    client = _client(app, "quanly", "branch_admin")
    client.post("/desk/staff/thuthu/password", data={"password": "password123",
                                                     "csrf_token": "t"})
    assert _password_is("thuthu", PASSWORD)  # a common password is refused
    client.post("/desk/staff/thuthu/password", data={"password": "ngan", "csrf_token": "t"})
    assert _password_is("thuthu", PASSWORD)
    assert users.login_identity(key, "session") is not None
    client.post("/desk/staff/thuthu/password", data={"password": NEW, "csrf_token": "t"})
    assert _password_is("thuthu", NEW)
    assert users.login_identity(key, "session") is None
    assert LoginSession.select().where(LoginSession.subject == "thuthu").count() == 0


def test_a_form_without_the_csrf_token_changes_nothing(app, town):
    client = _client(app, "quanly", "branch_admin")
    response = client.post("/desk/staff/thuthu/active", data={"active": "0"})
    assert response.status_code == 400
    assert _state("thuthu")[1] is True
