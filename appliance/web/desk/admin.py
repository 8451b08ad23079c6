"""Branch administration: loan rules, the library calendar, the audit log."""

from datetime import date

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from ...core import audit, holds, policy
from ...core.catalogue import ITEM_TYPES
from ...core.errors import N_, Invalid
from ...core.models import ClosedDay, Hold, Library, LoanRule
from ..auth import ADMIN, STAFF, requires
from . import attempt, bp, form


@bp.route("/rules")
@requires(*STAFF)
def rules():
    rows = [policy.filled(rule) for rule in LoanRule.select().where(
        LoanRule.library == g.ctx.library).order_by(LoanRule.category, LoanRule.item_type)]
    return render_template("desk/rules.html", rules=rows, categories=policy.CATEGORIES,
                           item_types=ITEM_TYPES, defaults=policy.DEFAULT_RULE)


@bp.route("/rules", methods=["POST"])
@requires(*ADMIN)
def save_rule():
    lib = g.ctx.library
    if request.form.get("delete"):
        attempt(lambda: policy.delete_rule(g.ctx, lib, form("category"), form("item_type")),
                _("Rule removed."))
    else:
        values = {name: form(name) for name in policy.RULE_FIELDS}
        values["holds_allowed"] = bool(request.form.get("holds_allowed"))
        attempt(lambda: policy.save_rule(g.ctx, lib, form("category"), form("item_type"),
                                         **values), _("Rule saved."))
    return redirect(url_for("desk.rules"))


def _parse_day(text):
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid("bad_date", N_("%(value)s is not a date (YYYY-MM-DD)."), value=text)


@bp.route("/calendar", methods=["GET", "POST"])
@requires(*ADMIN)
def calendar():
    lib = g.ctx.library
    if request.method == "POST":
        if "weekdays" in request.form:
            from ...core.datadir import save_library
            days = request.form.getlist("closed_weekday")
            attempt(lambda: save_library(g.ctx, lib, Library.get_by_id(lib).name, days),
                    _("Opening days saved."))
        else:
            closed = not request.form.get("reopen")
            attempt(lambda: policy.set_closed(g.ctx, lib, _parse_day(form("day")), closed,
                                              form("reason") or None),
                    _("Calendar saved."))
        return redirect(url_for("desk.calendar"))
    days = list(ClosedDay.select().where(ClosedDay.library == lib).order_by(ClosedDay.day))
    return render_template("desk/calendar.html", days=days, library=Library.get_by_id(lib),
                           today=g.ctx.clock.today().isoformat())


@bp.route("/holds/expire", methods=["POST"])
@requires(*STAFF)
def expire_holds():
    attempt(lambda: holds.expire_pickups(g.ctx),
            lambda n: ngettext("%(num)s expired pickup moved on.",
                                "%(num)s expired pickups moved on.", n))
    return redirect(url_for("desk.hold_shelf"))


@bp.route("/holds")
@requires(*STAFF)
def hold_shelf():
    rows = list(Hold.select().where((Hold.library == g.ctx.library)
                                    & (Hold.status << ("waiting", "ready")))
                .order_by(Hold.status.desc(), Hold.placed_at))
    return render_template("desk/holds.html", holds=rows, today=g.ctx.clock.today().isoformat())


@bp.route("/audit")
@requires(*ADMIN)
def audit_log():
    return render_template("desk/audit.html", rows=audit.recent(200))
