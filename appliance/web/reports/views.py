"""The pages: a library's report with charts, its exports, counting at the desk, and at
the hub the town's dashboard, the semi-annual report and the register."""

from flask import Response, abort, flash, g, redirect, render_template, request, url_for

from ...core.errors import DomainError
from ...core.reports import charts, counting, document, export, town
from ...core.reports import period as periods
from ...core.reports.suppress import figures as withheld
from .. import i18n
from ..auth import identity, requires
from . import (
    COUNTERS,
    DESK,
    READERS,
    bp,
    chosen_period,
    due_warning,
    hide_small,
    library_of_request,
    links,
    register_codes,
    today,
    tr,
)


def _library_report():
    """The report the request asks for: a library's, or at the hub with no library named
    the town's, as one library."""
    p = chosen_period("month")
    code, name = library_of_request()
    report = document.library_report(p, code, name or tr("Whole town"), today(),
                                     hide_small(), town=register_codes())
    if code is None:
        report["library"]["code"] = "town"
    return report, p


@bp.route("/reports/")
@requires(*DESK)
def home():
    if g.ctx.role == "hub" and not request.args.get("library"):
        return redirect(url_for("reports.town_dashboard", **request.args))
    report, p = _library_report()
    return render_template("reports/library.html", report=report, period=p,
                           charts=_charts(report), kinds=periods.KINDS,
                           say=lambda line: document.say(tr, line), here=_here(p),
                           can_count=identity()["role"] in COUNTERS)


def _here(p):
    """The query that names this page's period and library again (for its exports)."""
    args = {"from": p.start.isoformat(), "to": p.end.isoformat()}
    if g.ctx.role == "hub":
        args["library"] = request.args.get("library", "")
    return args


def _charts(report):
    monthly = report.get("monthly") or {}
    by_type = report["figures"]["collection"]["by_item_type"]
    types = [(tr(document.ITEM_TYPES.get(k, k)), v["copies"]) for k, v in sorted(by_type.items())]
    return {
        "loans": charts.columns([(m[5:] + "/" + m[2:4], n) for m, n in monthly.get("loans", [])]),
        "visits": charts.columns([(m[5:] + "/" + m[2:4], n)
                                  for m, n in monthly.get("visits", [])]),
        "collection": charts.rows(types),
    }


@bp.route("/reports/statistics.<fmt>")
@requires(*READERS, "librarian")
def export_library(fmt):
    if fmt not in export.FORMATS:
        abort(404)
    report, p = _library_report()
    sheet = export.library_sheet(report, tr, org=g.ctx.settings.get("library_name", ""))
    name = f"thong-ke-{report['library']['code']}-{p.name.replace('..', '_')}.{fmt}"
    return _file(sheet, fmt, name)


def _file(sheet, fmt, name):
    return Response(export.as_bytes(sheet, fmt), content_type=export.CONTENT_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/reports/counting", methods=["GET", "POST"])
@requires(*COUNTERS)
def counting_page():
    if request.method == "POST":
        who = identity()["username"]
        try:
            if request.form.get("what") == "visitors":
                done = counting.count_visitors(g.ctx, request.form.get("day", ""),
                                               request.form.get("count", ""), actor=who)
                flash(tr("%(count)s readers counted on %(day)s.", count=done["count"],
                         day=done["day"]), "success")
            else:
                done = counting.used_on_site(g.ctx, request.form.get("barcode", ""), actor=who)
                flash(tr("%(barcode)s counted as read in the library.",
                         barcode=done["item"]), "success")
        except DomainError as e:
            flash(i18n.translate(e), "error")
        return redirect(url_for("reports.counting_page"))
    return render_template("reports/counting.html", today=today().isoformat())


# The town (hub).

def _withhold(report):
    """report_viewer sees the town's figures with small numbers of people withheld."""
    if hide_small():
        for lib in report["libraries"]:
            lib["figures"] = withheld(lib["figures"])
        report["town"] = withheld(report["town"])


def _hub_only():
    if g.ctx.role != "hub":
        abort(404)


@bp.route("/hub/reports")
@requires("report_viewer", "hub_admin")
def town_dashboard():
    _hub_only()
    p = chosen_period("half")
    report = town.semiannual(p, links(), today())
    _withhold(report)
    half = p.name if p.kind == "half" else None
    return render_template("reports/town.html", report=report, period=p, kinds=periods.KINDS,
                           warning=due_warning(), half=half, columns=export.TOWN_COLUMNS,
                           get=document._get, kind_names=town.KINDS,
                           span={"from": p.start.isoformat(), "to": p.end.isoformat()},
                           units=town.AdminUnit.select().order_by(town.AdminUnit.code))


@bp.route("/hub/reports/semiannual.<fmt>")
@requires("report_viewer", "hub_admin")
def semiannual_export(fmt):
    _hub_only()
    if fmt not in export.FORMATS:
        abort(404)
    p = periods.parse(request.args.get("period") or periods.next_due(today())[0])
    if p.kind != "half":
        abort(400, description=tr("The semi-annual report is for a half-year (2026-H1)."))
    report = town.semiannual(p, links(), today())
    _withhold(report)
    return _file(export.town_sheet(report, tr, g.ctx.settings.get("report_issuer", "")), fmt, f"bao-cao-6-thang-{p.name}.{fmt}")


@bp.route("/hub/reports/register", methods=["POST"])
@requires("hub_admin")
def register_import():
    _hub_only()
    upload = request.files.get("file")
    kind = "units" if request.form.get("kind") == "units" else "libraries"
    if upload is None or not upload.filename:
        flash(tr("Choose a CSV file to import."), "error")
        return redirect(url_for("reports.town_dashboard"))
    try:
        count = town.import_csv(upload.read().decode("utf-8"), kind)
        flash(tr("%(count)s rows of the register imported.", count=count), "success")
    except UnicodeDecodeError:
        flash(tr("The file is not UTF-8 text."), "error")
    except DomainError as e:
        flash(i18n.translate(e), "error")
    return redirect(url_for("reports.town_dashboard"))



# One library of the register on a page of its own (the whole register comes as CSV).
_NEW_ENTRY = {"code": "", "name": "", "kind": "public", "unit": None, "key_library": False,
              "active": True}


@bp.route("/hub/reports/register/entry", methods=["GET", "POST"])
@requires("hub_admin")
def register_entry():
    _hub_only()
    if request.method == "POST":
        return _save_entry(request.form)
    code = (request.args.get("code") or "").strip().upper()
    found = town.LibraryEntry.get_or_none(town.LibraryEntry.code == code) if code else None
    if code and found is None:
        abort(404)
    entry = found.__data__ if found else _NEW_ENTRY
    return _entry_page(entry, editing=found is not None)


def _save_entry(form):
    try:
        saved = town.save_entry(form.get("code"), form.get("name"), form.get("kind") or "public",
                                form.get("unit") or None, bool(form.get("key_library")),
                                bool(form.get("active")))
    except DomainError as e:
        flash(i18n.translate(e), "error")
        code = (form.get("code") or "").strip().upper()
        editing = bool(code) and town.LibraryEntry.get_or_none(
            town.LibraryEntry.code == code) is not None
        entry = {**_NEW_ENTRY, **form.to_dict(), "key_library": bool(form.get("key_library")),
                 "active": bool(form.get("active"))}
        return _entry_page(entry, editing), 400
    flash(tr("%(name)s saved in the register.", name=saved.name), "success")
    return redirect(url_for("reports.town_dashboard"))


def _entry_page(entry, editing):
    return render_template("reports/register_entry.html", entry=entry, editing=editing,
                           kinds=town.KINDS,
                           units=town.AdminUnit.select().order_by(town.AdminUnit.name))
