"""Routes of the stocktake pages (templates/stocktake/). A scan answers as JSON when the
page's script asks (a wedge scan or the pad's tags, answered in a few milliseconds), or
as a page again without JavaScript."""

from flask import (
    Response,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from ...core.errors import DomainError
from ...core.models import Library
from ...core.reports import export
from ...core.stocktake import commands, record, result
from .. import i18n
from ..auth import STAFF, requires
from ..desk import attempt, form
from . import bp

EXPORTS = ("xlsx", "pdf")


def tr(msgid, **params):
    """The core's words (msgids it names with N_) in the reader's language."""
    return _(msgid, **params)


def _wants_json():
    return request.accept_mimetypes.best == "application/json" or request.is_json


def _actor():
    return session.get("user")


def _refused(e):
    response = jsonify({"error": {"code": e.code, "message": i18n.translate(e)}})
    response.status_code = e.status
    return response


@bp.route("/")
@requires(*STAFF)
def home():
    library = (request.args.get("library") or "").strip().upper() or None
    stocktakes = commands.listed(g.ctx, library if g.ctx.role == "hub" else None)
    libraries = {lib.code: lib.name for lib in Library.select()}
    return render_template("stocktake/home.html", stocktakes=stocktakes, library=library,
                           libraries=libraries, hub=g.ctx.role == "hub")


@bp.route("/start", methods=["POST"])
@requires(*STAFF)
def start():
    st = attempt(lambda: commands.start(g.ctx, form("location"), form("call_from"),
                                        form("call_to"), form("note"), actor=_actor()))
    return redirect(url_for("stocktake.show", stocktake_id=st.id) if st
                    else url_for("stocktake.home"))


@bp.route("/<stocktake_id>")
@requires(*STAFF)
def show(stocktake_id):
    st = commands.get(g.ctx, stocktake_id)
    found = result.of(st)
    scanning = not st.finished_at and g.ctx.role != "hub" and st.library == g.ctx.library
    return render_template("stocktake/show.html", st=st, found=found,
                           counts=result.counts(found), scanning=scanning,
                           readonly=g.ctx.role == "hub" or st.library != g.ctx.library,
                           scope=record.scope_words(st, tr), now_words=record.now_words,
                           tr=tr,
                           why=record.WHY, last=session.pop("stocktake_last", None))


@bp.route("/<stocktake_id>/scan", methods=["POST"])
@requires(*STAFF)
def scan(stocktake_id):
    """One barcode (`barcode`) or the pad's tags (`tags`: [{"barcode", "owner"}])."""
    data = request.get_json(silent=True) if request.is_json else None
    if data is not None:
        codes = data.get("tags") or [data.get("barcode")]
        via = "rfid" if data.get("tags") else "scanner"
    else:
        codes, via = [form("barcode")], "scanner"
    try:
        answers = commands.scan(g.ctx, stocktake_id, [c for c in codes if c], via=via,
                                actor=_actor())
    except DomainError as e:
        if _wants_json():
            return _refused(e)
        flash(i18n.translate(e), "error")
        return redirect(url_for("stocktake.show", stocktake_id=stocktake_id))
    answers = [dict(a, message=said(a)) for a in answers]
    if _wants_json():
        return jsonify({"answers": answers, "seen": commands.seen_count(stocktake_id)})
    session["stocktake_last"] = answers[-1]
    return redirect(url_for("stocktake.show", stocktake_id=stocktake_id))


def said(answer):
    """What the desk says about one scan, in the reader's language."""
    if answer["again"]:
        return _("Counted already.")
    verdict = answer["verdict"]
    if verdict == "ok":
        return _("In its place.")
    if verdict == "misplaced":
        place = " ".join(p for p in (answer.get("location"), answer.get("call_number")) if p)
        return _("Misplaced: it belongs at %(place)s.", place=place or "—")
    if verdict == "other_library":
        return _("A copy of library %(library)s.", library=answer.get("library") or "?")
    if verdict == "unknown":
        return _("No copy here has this barcode.")
    if verdict == "found_lost":
        return _("Marked lost, found: put it back on the shelf from the result.")
    if verdict == "found_withdrawn":
        return _("Marked withdrawn, found on the shelf.")
    return _("On loan as far as the system knows, yet here on the shelf.")


@bp.route("/<stocktake_id>/finish", methods=["POST"])
@requires(*STAFF)
def finish(stocktake_id):
    attempt(lambda: commands.finish(g.ctx, stocktake_id, actor=_actor()),
            _("The stocktake is finished; its result is recorded."))
    return redirect(url_for("stocktake.show", stocktake_id=stocktake_id))


@bp.route("/<stocktake_id>/lost", methods=["POST"])
@requires(*STAFF)
def mark_lost(stocktake_id):
    attempt(lambda: commands.mark_missing_lost(g.ctx, stocktake_id, actor=_actor()),
            lambda marked: _("%(count)s missing copies marked lost.", count=len(marked)))
    return redirect(url_for("stocktake.show", stocktake_id=stocktake_id) + "#missing")


@bp.route("/<stocktake_id>/back", methods=["POST"])
@requires(*STAFF)
def put_back(stocktake_id):
    barcode = form("barcode")
    attempt(lambda: commands.put_back(g.ctx, stocktake_id, barcode, actor=_actor()),
            _("Copy %(barcode)s is back on the shelf.", barcode=barcode))
    return redirect(url_for("stocktake.show", stocktake_id=stocktake_id) + "#unexpected")


@bp.route("/<stocktake_id>/record.<fmt>")
@requires(*STAFF)
def export_record(stocktake_id, fmt):
    if fmt not in EXPORTS:
        return Response(status=404)
    st = commands.get(g.ctx, stocktake_id)
    sheet = record.sheet(st, result.of(st), tr)
    name = f"kiem-ke-{st.library}-{(st.finished_at or st.started_at)[:10]}.{fmt}"
    return Response(export.as_bytes(sheet, fmt), content_type=export.CONTENT_TYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
