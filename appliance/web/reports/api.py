"""GET /api/v1/reports/statistics and /api/v1/reports/indicators: the figures as JSON."""

from flask import abort, g, jsonify, request

from ...core.reports import figures, town
from ...core.reports import period as periods
from ...core.reports.suppress import figures as withheld
from ..auth import requires
from . import READERS, bp, hide_small, library_of_request, links, today


@bp.route("/api/v1/reports/statistics")
@requires(*READERS)
def api_statistics():
    if not request.args.get("from") or not request.args.get("to"):
        if not request.args.get("period"):
            abort(400, description="from and to (YYYY-MM-DD) are required")
    p = periods.parse(request.args["period"]) if request.args.get("period") else \
        periods.between(request.args["from"], request.args["to"])
    code, name = library_of_request()
    if code is None:
        data = figures.town(p, [e["code"] for e in town.register()] or None, today=today())
    else:
        data = figures.compute(p, [code], today=today())[code]
    before = p.year_earlier()
    if code is None:
        earlier = figures.town(before, [e["code"] for e in town.register()] or None,
                               today=today())
    else:
        earlier = figures.compute(before, [code], today=today())[code]
    if hide_small():
        data, earlier = withheld(data), withheld(earlier)
    return jsonify({"library": code, "name": name, "period": p.as_dict(),
                    "figures": data, "previous": {"period": before.as_dict(),
                                                  "figures": earlier},
                    "withheld_below": 5 if hide_small() else None})


@bp.route("/api/v1/reports/indicators")
@requires("report_viewer", "hub_admin")
def api_indicators():
    if g.ctx.role != "hub":
        abort(404)
    return jsonify({"indicators": town.indicators(links())})
