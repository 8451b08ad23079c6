"""`thuvien recommend build`: at the hub, build the reading suggestions and the
cataloguing classifier from the whole town (core/suggest); the next sync ships them to
every branch. The service also builds them once a day (appliance/maintenance.py)."""

import json

from . import Failed, data_dir_arg, opened


def register(sub):
    p = sub.add_parser("recommend", help="reading suggestions and cataloguing help (hub)")
    rsub = p.add_subparsers(dest="recommend_command", metavar="ACTION", required=True)
    b = rsub.add_parser("build", help="build the model that the next sync ships to branches")
    data_dir_arg(b)
    b.set_defaults(func=cmd_build)


def cmd_build(args):
    from appliance.core.suggest import build

    with opened(args) as ctx:
        if ctx.role != "hub":
            raise Failed("the suggestions are built at the hub from the whole town's loans; "
                         "a branch receives them with sync")
        print(json.dumps(build.build(ctx), ensure_ascii=False, indent=1))
    return 0
