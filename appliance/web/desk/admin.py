"""Branch administration: loan rules, the library calendar, the audit log."""

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from ...core import audit, holds, policy
from ...core import conflicts as settling
from ...core.authority import Quarantine
from ...core.catalogue import ITEM_TYPES
from ...core.clock import LIBRARY_TZ
from ...core.errors import N_, Invalid
from ...core.models import OPEN_HOLDS, ClosedDay, Conflict, Hold, Library, LoanRule, Patron
from ...core.rights import history as rights_history
from ..auth import ADMIN, STAFF, requires
from ..helpers import libraries, library_name, vndate
from . import attempt, bp, form


@bp.route("/rules")
@requires(*STAFF)
def rules():
    rows = [policy.filled(rule) for rule in LoanRule.select().where(
        LoanRule.library == g.ctx.library).order_by(LoanRule.category, LoanRule.item_type)]
    return render_template("desk/rules.html", rules=rows, categories=policy.CATEGORIES,
                           item_types=ITEM_TYPES, defaults=policy.DEFAULT_RULE,
                           history_days=rights_history.days(g.ctx.library))


@bp.route("/rules/history", methods=["POST"])
@requires(*ADMIN)
def save_history_days():
    """How long returned loans stay linked to patrons who keep no reading history."""
    attempt(lambda: rights_history.save_days(g.ctx, form("history_days")),
            _("Retention saved."))
    return redirect(url_for("desk.rules"))


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
                                    & (Hold.status << OPEN_HOLDS))
                .order_by(Hold.status.desc(), Hold.placed_at))
    audit.seen(g.ctx, session.get("user"), "holds.shelf", [h.patron_id for h in rows])
    return render_template("desk/holds.html", holds=rows, today=g.ctx.clock.today().isoformat())


@bp.route("/audit")
@requires(*ADMIN)
def audit_log():
    """Who looked at whom: a hub admin reads the whole town's (it syncs there), a branch
    admin their library's; filters by staff account and patron card."""
    who, card = request.args.get("username", "").strip(), request.args.get("card", "").strip()
    patron = _patron_id(card)
    library = None if g.ctx.role == "hub" else g.ctx.library
    rows = audit.entries(username=who or None, patron=patron, library=library, limit=300)
    return render_template("desk/audit.html", rows=rows, username=who, card=card,
                           names=_cards([r.patron for r in rows]),
                           local=audit.local_recent(100))


def _patron_id(card):
    if not card:
        return None
    found = Patron.get_or_none(Patron.card_key == card.strip().upper())
    return found.id if found else card


def _cards(ids):
    return {p.id: p.card for p in Patron.select(Patron.id, Patron.card).where(
        Patron.id << sorted(set(ids)))}


@bp.route("/conflicts")
@requires(*STAFF)
def conflicts():
    rows = (Conflict.select().where(Conflict.library == g.ctx.library)
            if g.ctx.role != "hub" else Conflict.select())
    # open ones first ("open" < "resolved"), newest first within each
    rows = list(rows.order_by(Conflict.status, Conflict.created_at.desc()).limit(500))
    shown = [patron for row in rows for patron in settling.patrons_shown(row)]
    audit.seen(g.ctx, session.get("user"), "conflicts", shown)
    held = quarantined() if g.ctx.role == "hub" else None
    return render_template("desk/conflicts.html", conflicts=[_in_words(c) for c in rows],
                           quarantined=held, choice_texts=settling.CHOICE_TEXTS,
                           words=words)


@bp.route("/conflicts/<conflict_id>/resolve", methods=["POST"])
@requires(*STAFF)
def resolve_conflict(conflict_id):
    attempt(lambda: settling.resolve(g.ctx, conflict_id, form("choice")),
            _("Conflict resolved."))
    return redirect(url_for("desk.conflicts"))


_DATES = ("due",)  # parameters that are dates, written as Vietnamese readers write them


def words(said):
    """A (msgid, params) pair from the core in the reader's language; a parameter may
    itself be such a pair."""
    if isinstance(said, str):
        return _(said)
    msgid, params = said
    params = {k: words(v) if isinstance(v, tuple) else vndate(v) if k in _DATES else v
              for k, v in params.items()}
    return _(msgid, **params) if params else _(msgid)


def local_time(iso, code):
    """A time on the wall clock of the library where it happened."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    lib = libraries().get(code)
    try:
        zone = ZoneInfo(lib.timezone) if lib is not None and lib.timezone else LIBRARY_TZ
    except (KeyError, ValueError):
        zone = LIBRARY_TZ
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    return moment.strftime("%d/%m/%Y %H:%M")


def _in_words(conflict):
    said = settling.describe(conflict)
    for side in said["sides"]:
        side["place"] = library_name(side["library"]) if side["library"] else None
        side["time"] = local_time(side["when"], side["library"] or conflict.library)
    said.update(row=conflict, place=library_name(conflict.library),
                resolved_time=local_time(conflict.resolved_at, conflict.library))
    return said


def quarantined(limit=500):
    """Events the hub refused to apply (core/authority.py), newest first."""
    rows = list(Quarantine.select().order_by(Quarantine.received_at.desc()).limit(limit))
    for row in rows:
        row.reason_params = json.loads(row.params)
    return rows
