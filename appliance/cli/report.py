"""`thuvien report statistics --from … --to … [--library CODE] --out FILE`,
`thuvien report semiannual --period YYYY-H1|YYYY-H2 --out FILE` and
`thuvien report register --libraries FILE.csv | --units FILE.csv` (the hub's register of
the town's libraries). The format is the file's ending: .xlsx, .pdf or .csv."""

import sys
from pathlib import Path

from . import data_dir_arg, opened, translator


def register(sub):
    p = sub.add_parser("report", help="reports: a library's statistics, the town's "
                                      "semi-annual report, the register of libraries")
    rsub = p.add_subparsers(dest="report_command", metavar="ACTION", required=True)
    s = rsub.add_parser("statistics", help="a library's (or the town's) figures for a period")
    data_dir_arg(s)
    s.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    s.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
    s.add_argument("--library", help="library code (a branch: its own; the hub: the whole "
                                     "town when left out)")
    s.add_argument("--out", required=True, help="file to write: .xlsx, .pdf or .csv")
    s.add_argument("--lang", default="vi", choices=("vi", "en"), help="language (vi)")
    s.set_defaults(func=cmd_statistics)
    h = rsub.add_parser("semiannual", help="the town's semi-annual report (hub)")
    data_dir_arg(h)
    h.add_argument("--period", required=True, help="YYYY-H1 or YYYY-H2")
    h.add_argument("--out", required=True, help="file to write: .xlsx, .pdf or .csv")
    h.add_argument("--lang", default="vi", choices=("vi", "en"), help="language (vi)")
    h.set_defaults(func=cmd_semiannual)
    r = rsub.add_parser("register", help="import the town's register (hub), CSV with a header")
    data_dir_arg(r)
    r.add_argument("--libraries", help="code,name,kind,unit,key_library,active")
    r.add_argument("--units", help="code,name,level,parent,valid_from,valid_to")
    r.set_defaults(func=cmd_register)


def _library(ctx, code):
    from appliance.core.errors import N_, Forbidden, NotFound
    from appliance.core.models import Library

    if ctx.role != "hub":
        if code and code.upper() != ctx.library:
            raise Forbidden("other_library_report", N_("This device reports on library "
                                                        "%(library)s only."),
                            library=ctx.library)
        code = ctx.library
    if not code:
        return None, None
    code = code.upper()
    lib = Library.get_or_none(Library.code == code)
    if lib is None:
        raise NotFound("library_not_found", N_("No library has code %(library)s."),
                       library=code)
    return code, lib.name or code


def cmd_statistics(args):
    from appliance.core.reports import document, export, town
    from appliance.core.reports import period as periods

    fmt = export.format_of(args.out)
    with opened(args) as ctx:
        town.ensure_tables(ctx.db)
        p = periods.between(args.start, args.end)
        tr = translator(args.lang)
        code, name = _library(ctx, args.library)
        codes = [e["code"] for e in town.register()] or None
        report = document.library_report(p, code, name or tr("Whole town"),
                                         ctx.clock.today(), town=codes)
        if code is None:
            report["library"]["code"] = "*"
        sheet = export.library_sheet(report, tr, org=ctx.settings.get("library_name", ""))
        export.write(sheet, fmt, args.out)
    print(f"{Path(args.out)}: {p.name}, {name or 'town'}", file=sys.stderr)
    return 0


def cmd_semiannual(args):
    from appliance.core.errors import N_, Invalid
    from appliance.core.reports import export, town
    from appliance.core.reports import period as periods

    fmt = export.format_of(args.out)
    p = periods.parse(args.period)
    if p.kind != "half":
        raise Invalid("bad_period", N_("%(value)s is not a half-year (2026-H1 or 2026-H2)."),
                      value=args.period)
    with opened(args) as ctx:
        town.ensure_tables(ctx.db)
        report = town.semiannual(p, device_links(ctx), ctx.clock.today())
        export.write(export.town_sheet(report, translator(args.lang),
                                       ctx.settings.get("report_issuer", "")), fmt, args.out)
    stale = [lib["code"] for lib in report["libraries"] if lib["stale"]]
    print(f"{Path(args.out)}: {p.name}, {len(report['libraries'])} libraries"
          + (f"; not synced since {report['stale_since']}: {', '.join(stale)}" if stale else ""),
          file=sys.stderr)
    return 0


def device_links(ctx):
    """{library: {"last_sync", "active"}} from the hub's device registry (none at a branch)."""
    from sync import models as sync_models
    from sync.models import Device

    sync_models.ensure_tables(ctx.db)
    out: dict = {}
    for d in Device.select():
        link = out.setdefault(d.library, {"last_sync": None, "active": False})
        if d.status == "active":
            link["active"] = True
            if d.last_seen and (link["last_sync"] or "") < d.last_seen:
                link["last_sync"] = d.last_seen
    return out


def cmd_register(args):
    from appliance.core.reports import town

    if not args.libraries and not args.units:
        raise SystemExit("thuvien: give --libraries FILE.csv or --units FILE.csv")
    with opened(args) as ctx:
        town.ensure_tables(ctx.db)
        for kind, path in (("units", args.units), ("libraries", args.libraries)):
            if path:
                count = town.import_csv(Path(path).read_text(encoding="utf-8"), kind)
                print(f"{path}: {count} {kind}", file=sys.stderr)
    return 0
