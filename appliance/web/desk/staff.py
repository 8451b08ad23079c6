"""Staff and kiosk accounts at the desk: a branch admin manages their library's, a hub
admin every library's (core/users.py decides who may do what; this only asks)."""

from flask import g, redirect, render_template, url_for
from flask_babel import gettext as _

from ...core import users
from ...core.errors import N_
from ..auth import ADMIN, identity, requires
from ..helpers import libraries
from . import attempt, bp, form

ROLE_NAMES = {"kiosk": N_("Kiosk"), "report_viewer": N_("Report viewer"),
              "librarian": N_("Librarian"), "branch_admin": N_("Branch administrator"),
              "hub_admin": N_("Hub administrator")}
ACTION_NAMES = {"account.added": N_("account added"),
                "account.password": N_("password reset"),
                "account.disabled": N_("account disabled"),
                "account.enabled": N_("account enabled"), "account.role": N_("role changed")}


def _actor():
    return identity()["username"]


@bp.route("/staff")
@requires(*ADMIN)
def staff():
    actor = _actor()
    return render_template("desk/staff.html", accounts=users.manageable(actor),
                           roles=users.grantable(actor), role_names=ROLE_NAMES,
                           action_names=ACTION_NAMES, log=users.account_log(actor),
                           libraries=libraries() if identity()["role"] == "hub_admin" else None,
                           me=actor)


@bp.route("/staff", methods=["POST"])
@requires(*ADMIN)
def add_staff():
    username = form("username")
    attempt(lambda: users.add_account(g.ctx, _actor(), username, form("password"),
                                      form("role"), form("library") or None),
            _("Account %(username)s added.", username=username))
    return redirect(url_for("desk.staff"))


@bp.route("/staff/<username>/password", methods=["POST"])
@requires(*ADMIN)
def reset_staff_password(username):
    attempt(lambda: users.reset_password(g.ctx, _actor(), username, form("password")),
            _("New password set for %(username)s; their open logins were ended.",
              username=username))
    return redirect(url_for("desk.staff"))


@bp.route("/staff/<username>/active", methods=["POST"])
@requires(*ADMIN)
def staff_active(username):
    active = form("active") == "1"
    attempt(lambda: users.change_active(g.ctx, _actor(), username, active),
            _("Account %(username)s enabled.", username=username) if active else
            _("Account %(username)s disabled.", username=username))
    return redirect(url_for("desk.staff"))


@bp.route("/staff/<username>/role", methods=["POST"])
@requires(*ADMIN)
def staff_role(username):
    attempt(lambda: users.change_role(g.ctx, _actor(), username, form("role")),
            _("Role of %(username)s changed.", username=username))
    return redirect(url_for("desk.staff"))
