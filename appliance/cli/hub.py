"""Hub subcommands: `thuvien hub token create --library CODE`,
`thuvien hub device {approve,revoke} ID`."""

import sys

from . import data_dir_arg, opened


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
