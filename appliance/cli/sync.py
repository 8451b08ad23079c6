"""Sync subcommands on a branch: enroll, sync now|status|export|import|run."""

import json
import os
import sys

import sync.models  # noqa: F401  (sync's tables exist whenever a thuvien command opens a folder)

from . import Failed, data_dir_arg, open_context, opened, require_data, translator


def register(sub):
    p = sub.add_parser("enroll", help="make this device's keys and enrol with the hub")
    data_dir_arg(p)
    p.add_argument("--hub", required=True, help="the hub's address, e.g. http://hub:8080")
    p.add_argument("--token", required=True, help="the one-time token made at the hub")
    p.add_argument("--tls-name", action="append", default=[], metavar="NAME",
                   help="another DNS name or IP address this device serves on, for its "
                        "certificate (repeatable; <device>.local and localhost are always in)")
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser("sync", help="ship events to the hub and pull the town's")
    ssub = p.add_subparsers(dest="sync_command", metavar="ACTION", required=True)
    for name, func, text in (("now", cmd_now, "sync once, now"),
                             ("status", cmd_status, "print the sync status as JSON"),
                             ("run", cmd_run, "the scheduled agent, with back-off"),
                             ("rotate-keys", cmd_rotate,
                              "make new device keys; the next sync hands them to the hub"),
                             ("renew-cert", cmd_renew_cert,
                              "ask the hub for a new TLS certificate for this device now")):
        a = ssub.add_parser(name, help=text)
        data_dir_arg(a)
        a.set_defaults(func=func)
    a = ssub.choices["run"]
    a.add_argument("--interval", type=float, default=300, help="seconds between runs")
    ssub.choices["now"].add_argument(
        "--deadline", type=float, default=None, metavar="SECONDS",
        help="give up after this many seconds (default 600); what was done is kept")
    for name, func, text in (("export", cmd_export, "write sealed batches to a file"),
                             ("import", cmd_import, "apply sealed batches from a file")):
        a = ssub.add_parser(name, help=text)
        data_dir_arg(a)
        a.add_argument("file")
        a.set_defaults(func=func)
    ssub.choices["export"].add_argument("--device", help="at the hub: the device to write for")


def cmd_enroll(args):
    from sync import enrol, protocol

    with opened(args) as ctx:
        if args.tls_name:  # kept in settings: renewals ask for the same names
            from appliance.core.context import save_settings

            tls = ctx.settings.setdefault("tls", {})
            tls["names"] = list(dict.fromkeys([*(tls.get("names") or []), *args.tls_name]))
            save_settings(ctx.data_dir, ctx.settings)
        try:
            conf = enrol.enrol_with(ctx, args.hub, args.token)
        except protocol.SyncError as e:
            raise Failed(f"enrolment failed: {e.message}") from e
    print(f"enrolled {ctx.origin} with hub {conf['hub_id']} at {conf['hub_url']}")
    if conf.get("tls"):
        _print_cert(conf["tls"])
    if conf.get("enrolment") == "pending":
        print("waiting for approval by the hub's staff; sync starts once approved")
    return 0


def say(msgid, **params):
    """A message for staff at the console: Vietnamese unless THUVIEN_LANG=en."""
    return translator(os.environ.get("THUVIEN_LANG", "vi"))(msgid, **params)


def failed(msgid, exc):
    """The failure a sync command raises: its code, then why, translated."""
    from sync import agent, protocol

    if isinstance(exc, protocol.SyncError):
        reason = f"{exc.code}: {agent.describe(exc, say)}"
    else:
        reason = str(exc)
    return Failed(say(msgid, reason=reason))


def cmd_now(args):
    from sync import agent, protocol

    deadline = args.deadline if args.deadline and args.deadline > 0 else agent.DEADLINE
    with opened(args) as ctx:
        print("thuvien: " + say("Sync gives up after %(seconds)s s if it has not finished "
                                "(--deadline).", seconds=round(deadline)), file=sys.stderr)
        try:
            result = agent.run_once(ctx, deadline=deadline)
        except protocol.SyncError as e:
            raise failed("sync failed: %(reason)s", e) from e
    print(json.dumps(result))
    return 0


def cmd_status(args):
    from sync import status

    with opened(args) as ctx:
        summary = status.summary(ctx)
    warning = status.clock_warning(summary, say)
    if warning:  # said in words too: the clock is wrong, set it
        summary["clock"]["warning"] = warning
        print("thuvien: " + warning, file=sys.stderr)
    for row in summary.get("files_failed") or ():  # a file held back after failing its check
        row["text"] = status.file_failure_text(row, say)
        print("thuvien: " + row["text"], file=sys.stderr)
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0


def cmd_run(args):
    from sync import agent

    agent.run_forever(lambda: open_context(args), interval=args.interval)
    return 0


def cmd_export(args):
    from sync import protocol, usb

    with opened(args) as ctx:
        try:
            result = usb.export(ctx, args.file, getattr(args, "device", None))
        except (usb.UsbError, protocol.SyncError) as e:
            raise failed("export failed: %(reason)s", e) from e
    print(json.dumps(result))
    return 0


def cmd_import(args):
    from sync import protocol, usb

    with opened(args) as ctx:
        try:
            result = usb.import_(ctx, args.file)
        except (usb.UsbError, protocol.SyncError, OSError) as e:
            raise failed("import failed: %(reason)s", e) from e
    print(json.dumps(result, ensure_ascii=False))
    return 1 if result["refused"] else 0


def cmd_rotate(args):
    from sync import keys

    data = require_data(args)
    new = keys.prepare_rotation(data)
    print(f"new keys ready (signing key {new.public_dict()['sign_key'][:12]}...); "
          "the next sync hands them to the hub, which accepts the old ones for an overlap")
    return 0


def _print_cert(tls):
    print(f"TLS certificate for {', '.join(tls['names'])} until {tls['not_after']}")
    if tls.get("refused_names"):
        print(f"the hub left out names this device may not hold: "
              f"{', '.join(tls['refused_names'])}", file=sys.stderr)


def cmd_renew_cert(args):
    from sync import certs

    with opened(args) as ctx:
        try:
            tls = certs.renew(ctx)
        except certs.CertError as e:
            raise Failed(f"certificate renewal failed: {e.message}") from e
    _print_cert(tls)
    print("thuvien serve loads it within the hour (or at its next start)")
    return 0
