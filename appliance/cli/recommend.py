"""`thuvien recommend build`: at the hub, build the reading suggestions and the
cataloguing classifier from the whole town (core/suggest); the next sync ships them to
every branch. The service also builds them once a day (appliance/maintenance.py)."""

import json
import sys

from . import data_dir_arg, open_context


def register(sub):
    p = sub.add_parser("recommend", help="reading suggestions and cataloguing help (hub)")
    rsub = p.add_subparsers(dest="recommend_command", metavar="ACTION", required=True)
    b = rsub.add_parser("build", help="build the model that the next sync ships to branches")
    data_dir_arg(b)
    b.set_defaults(func=cmd_build)


def cmd_build(args):
    from appliance.core.suggest import build

    ctx = open_context(args)
    try:
        if ctx.role != "hub":
            print("thuvien: the suggestions are built at the hub from the whole town's "
                  "loans; a branch receives them with sync", file=sys.stderr)
            return 1
        print(json.dumps(build.build(ctx), ensure_ascii=False, indent=1))
    finally:
        ctx.close()
    return 0
