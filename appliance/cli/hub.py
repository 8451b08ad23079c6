"""Hub subcommands: `thuvien hub token create --library CODE`,
`thuvien hub device {approve,revoke} ID`, `thuvien hub config {publish,list}`."""

import json
import sys

from . import data_dir_arg, opened, read_json


def register(sub):
    p = sub.add_parser("hub", help="the town hub: enrolment tokens, devices")
    hsub = p.add_subparsers(dest="hub_command", metavar="ACTION", required=True)
    t = hsub.add_parser("token", help="enrolment tokens")
    tsub = t.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    c = tsub.add_parser("create", help="a one-time, expiring enrolment token, printed")
    data_dir_arg(c)
    c.add_argument("--library", required=True, help="the library the device will serve")
    c.add_argument("--hours", type=float, default=72, help="valid for (default 72 hours)")
    c.set_defaults(func=cmd_token_create)
    d = hsub.add_parser("device", help="enrolled devices")
    dsub = d.add_subparsers(dest="device_command", metavar="ACTION", required=True)
    for action, text in (("revoke", "refuse every further batch from a device"),
                         ("approve", "let a device waiting for approval sync")):
        a = dsub.add_parser(action, help=text)
        data_dir_arg(a)
        a.add_argument("device")
        a.set_defaults(func=cmd_device, action=action)
    _register_config(hsub)


def _register_config(hsub):
    c = hsub.add_parser("config", help="the devices' configuration, sent with their sync")
    csub = c.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    p = csub.add_parser("publish", help="publish a configuration (a JSON object) for the "
                        "town, a library or a device")
    data_dir_arg(p)
    p.add_argument("file", help="the JSON file, or - for standard input")
    p.add_argument("--library", default="*", help="only this library's devices")
    p.add_argument("--device", default="*", help="only this device")
    p.set_defaults(func=cmd_config_publish)
    ls = csub.add_parser("list", help="the configurations published, newest first (JSON)")
    data_dir_arg(ls)
    ls.set_defaults(func=cmd_config_list)


def cmd_token_create(args):
    from sync import enrol

    with opened(args) as ctx:
        token = enrol.create_token(ctx, args.library, args.hours)
    print(token)
    print(f"library {args.library}, valid {args.hours:g} h, once; the part after the dot is "
          "the town CA's fingerprint, which the device checks before it trusts the hub",
          file=sys.stderr)
    return 0


def cmd_device(args):
    from sync import enrol

    act = {"revoke": enrol.revoke, "approve": enrol.approve}[args.action]
    with opened(args) as ctx:
        act(ctx, args.device)
    print(f"{args.action}d {args.device}")
    return 0


def cmd_config_publish(args):
    from provisioning import config

    body = read_json(args.file)
    with opened(args) as ctx:
        row = config.publish(ctx, body, args.library, args.device)
    print(f"published configuration {row.version} for library {row.library}, device "
          f"{row.device}: its devices apply it at their next sync")
    return 0


def cmd_config_list(args):
    from provisioning import config

    with opened(args):
        rows = [{"version": r.version, "library": r.library, "device": r.device,
                 "published_at": r.published_at, "body": r.body} for r in config.published()]
    print(json.dumps(rows, ensure_ascii=False, indent=1))
    return 0
