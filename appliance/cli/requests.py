"""`thuvien requests {list,expire}`: the remote requests' queue (core/requests) as JSON,
and the end of the download links whose day has passed (run daily, as a timer does)."""

import json

from . import data_dir_arg, opened


def register(sub):
    p = sub.add_parser("requests", help="remote requests: copies of pages, loans by post")
    rsub = p.add_subparsers(dest="requests_command", metavar="ACTION", required=True)
    s = rsub.add_parser("list", help="the open requests of this library (the hub: the town's)")
    data_dir_arg(s)
    s.add_argument("--library", help="at the hub: one library's")
    s.add_argument("--all", action="store_true", help="finished requests too")
    s.set_defaults(func=cmd_list)
    e = rsub.add_parser("expire", help="end the download links whose day has passed")
    data_dir_arg(e)
    e.set_defaults(func=cmd_expire)


def cmd_list(args):
    from appliance.core.requests import commands, copies

    with opened(args) as ctx:
        rows = [{"id": r.id, "library": r.library, "kind": r.kind, "state": r.state,
                 "title": r.title, "pages": r.pages, "placed_at": r.placed_at,
                 "expires_at": r.expires_at, "due_date": r.due_date,
                 **copies.late_fields(ctx, r)}
                for r in commands.queue(ctx, args.library, args.all)]
    print(json.dumps(rows, ensure_ascii=False, indent=1))


def cmd_expire(args):
    from appliance.core.requests import commands

    with opened(args) as ctx:
        print(json.dumps({"expired": commands.expire_due(ctx)}))
