"""GET /api/v1/reports/statistics and /api/v1/reports/indicators: the figures as JSON."""

from flask import abort, g, jsonify, request

from ...core.reports import figures, town
from ...core.reports import period as periods
from ...core.reports.suppress import figures as withheld
from ..auth import requires
from . import READERS, bp, hide_small, library_of_request, links, register_codes, today


@bp.route("/api/v1/reports/statistics")
@requires(*READERS)
def api_statistics():
    if not request.args.get("from") or not request.args.get("to"):
        if not request.args.get("period"):
            abort(400, description="from and to (YYYY-MM-DD) are required")
    p = periods.parse(request.args["period"]) if request.args.get("period") else \
        periods.between(request.args["from"], request.args["to"])
    code, name = library_of_request()
    before = p.year_earlier()
    data, earlier = (_figures(span, code) for span in (p, before))
    if hide_small():
        data, earlier = withheld(data), withheld(earlier)
    return jsonify({"library": code, "name": name, "period": p.as_dict(),
                    "figures": data, "previous": {"period": before.as_dict(),
                                                  "figures": earlier},
                    "withheld_below": 5 if hide_small() else None})


def _figures(span, code):
    if code is None:  # the hub, no library named: the town
        return figures.town(span, register_codes(), today=today())
    return figures.compute(span, [code], today=today())[code]


@bp.route("/api/v1/reports/indicators")
@requires("report_viewer", "hub_admin")
def api_indicators():
    if g.ctx.role != "hub":
        abort(404)
    return jsonify({"indicators": town.indicators(links())})
