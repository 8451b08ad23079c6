"""`thuvien stocktake {start,scan,finish,report,list}`: the desk's stocktake screens on
the command line (core/stocktake). `scan` takes barcodes as arguments or one a line
from a file (`-` for standard input)."""

import json
import sys

from . import data_dir_arg, opened, translator


def register(sub):
    p = sub.add_parser("stocktake", help="stocktake (kiểm kê): count the shelves")
    ssub = p.add_subparsers(dest="stocktake_command", metavar="ACTION", required=True)
    s = ssub.add_parser("start", help="start a stocktake of the library or a shelf range")
    data_dir_arg(s)
    s.add_argument("--location", help="only this location (shelf, room)")
    s.add_argument("--from", dest="call_from", help="first call number of the range")
    s.add_argument("--to", dest="call_to", help="last call number of the range")
    s.add_argument("--note", help="a note kept with the record")
    s.add_argument("--by", help="who takes it (kept in the record)")
    s.set_defaults(func=cmd_start)
    c = ssub.add_parser("scan", help="copies seen: barcodes, or --file (one a line)")
    data_dir_arg(c)
    c.add_argument("barcodes", nargs="*", help="barcodes seen")
    c.add_argument("--file", help="a file of barcodes, one a line ('-': standard input)")
    c.add_argument("--id", help="the stocktake (default: the one open)")
    c.add_argument("--by", help="who scans")
    c.set_defaults(func=cmd_scan)
    f = ssub.add_parser("finish", help="finish a stocktake and record its result")
    data_dir_arg(f)
    f.add_argument("--id", help="the stocktake (default: the one open)")
    f.add_argument("--by", help="who finishes it")
    f.set_defaults(func=cmd_finish)
    r = ssub.add_parser("report", help="the result: counts as JSON, or the record as a file")
    data_dir_arg(r)
    r.add_argument("--id", help="the stocktake (default: the latest)")
    r.add_argument("--out", help="write the record: .xlsx or .pdf (or .csv)")
    r.add_argument("--lang", default="vi", choices=("vi", "en"), help="language (vi)")
    r.set_defaults(func=cmd_report)
    s = ssub.add_parser("list", help="the library's stocktakes")
    data_dir_arg(s)
    s.set_defaults(func=cmd_list)


def _summary(st):
    return {"id": st.id, "library": st.library, "location": st.location,
            "call_from": st.call_from, "call_to": st.call_to, "started_at": st.started_at,
            "started_by": st.started_by, "finished_at": st.finished_at,
            "finished_by": st.finished_by}


def _print(data):
    print(json.dumps(data, ensure_ascii=False, indent=1))


def cmd_start(args):
    from appliance.core.stocktake import commands

    with opened(args) as ctx:
        st = commands.start(ctx, args.location, args.call_from, args.call_to, args.note,
                            actor=args.by)
        _print(_summary(st))


def _chosen(ctx, given, latest=False):
    from appliance.core.errors import N_, NotFound
    from appliance.core.stocktake import commands

    if given:
        return commands.get(ctx, given)
    if not latest:
        return commands.current(ctx)
    listed = commands.listed(ctx)
    if not listed:
        raise NotFound("no_stocktake", N_("No stocktake has been taken here."))
    return listed[0]


def _barcodes(args):
    codes = list(args.barcodes)
    if args.file == "-":
        codes += sys.stdin.read().split()
    elif args.file:
        with open(args.file, encoding="utf-8") as f:
            codes += f.read().split()  # a barcode has no spaces
    return codes


def cmd_scan(args):
    from appliance.core.stocktake import commands

    codes = _barcodes(args)
    with opened(args) as ctx:
        st = _chosen(ctx, args.id)
        answers = []
        for n in range(0, max(len(codes), 1), commands.MAX_CODES):
            answers += commands.scan(ctx, st.id, codes[n:n + commands.MAX_CODES],
                                     actor=args.by)
    for a in answers:
        print("\t".join([a["barcode"], a["verdict"] + (" (again)" if a["again"] else ""),
                         a.get("title") or ""]))


def cmd_finish(args):
    from appliance.core.stocktake import commands, result

    with opened(args) as ctx:
        st = commands.finish(ctx, _chosen(ctx, args.id).id, actor=args.by)
        _print({**_summary(st), "counts": result.counts(result.of(st))})


def cmd_report(args):
    from appliance.core.reports import export
    from appliance.core.stocktake import record, result

    fmt = export.format_of(args.out) if args.out else None
    with opened(args) as ctx:
        st = _chosen(ctx, args.id, latest=True)
        found = result.of(st)
        if fmt is None:
            _print({**_summary(st), "counts": result.counts(found),
                    **{k: [e["barcode"] for e in found[k]]
                       for k in ("missing", "misplaced", "unexpected", "on_loan")}})
            return 0
        export.write(record.sheet(st, found, translator(args.lang)), fmt, args.out)
    print(args.out)


def cmd_list(args):
    from appliance.core.stocktake import commands

    with opened(args) as ctx:
        _print([_summary(st) for st in commands.listed(ctx)])
