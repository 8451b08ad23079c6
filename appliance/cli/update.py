"""`thuvien update {apply,carry,units,status,build,offer}`: signed software updates and the
units of the running version (see provisioning/updates, provisioning/units)."""

import argparse
import json
import os
import sys
from pathlib import Path

from . import Failed, data_dir_arg, opened, read_json, require_data

DEFAULT_ROOT = "/opt/thuvien"


def register(sub):
    p = sub.add_parser("update", help="signed software updates")
    usub = p.add_subparsers(dest="update_command", metavar="ACTION", required=True)

    a = usub.add_parser("apply", help="verify, install, switch, health-check, roll back")
    data_dir_arg(a)
    a.add_argument("file", nargs="?", help="an update bundle (.tvu), e.g. from a USB stick")
    a.add_argument("--pending", action="store_true",
                   help="apply what sync left in <data>/updates/incoming; one with a new "
                        "schema waits for the update window or the next start")
    a.add_argument("--now", action="store_true",
                   help="with --pending: apply one with a new schema now, and those waiting")
    a.add_argument("--root", default=os.environ.get("THUVIEN_APP_ROOT", DEFAULT_ROOT))
    a.add_argument("--restart", metavar="UNIT", help="systemd unit to restart (thuvien-web)")
    a.add_argument("--pause", metavar="UNIT", action="append", default=[],
                   help="a unit stopped while a new schema is migrated, started after "
                        "(the sync timer and service); with --restart")
    a.add_argument("--health-url", help="check GET URL/api/v1/health after the restart")
    a.add_argument("--notice-http", metavar="HOST:PORT", type=_address,
                   help="while a new schema is migrated, say so on the web service's port")
    a.add_argument("--notice-https", metavar="HOST:PORT", type=_address,
                   help="the same on its HTTPS port, with the device's certificate")
    a.set_defaults(func=cmd_apply)

    c = usub.add_parser("carry", help="take into this database the events a rolled-back "
                        "version wrote (the update does it)")
    data_dir_arg(c)
    c.add_argument("file", help="the events, as the update wrote them (JSON)")
    c.set_defaults(func=cmd_carry)

    s = usub.add_parser("status", help="installed versions, current, last result (JSON)")
    s.add_argument("--root", default=os.environ.get("THUVIEN_APP_ROOT", DEFAULT_ROOT))
    data_dir_arg(s)  # with it: the updates waiting for the window, and the window
    s.set_defaults(func=cmd_status)

    u = usub.add_parser("units", help="link the running version's systemd units into "
                        "systemd's run folder (the Pi does it at every start)")
    u.add_argument("--root", default=os.environ.get("THUVIEN_APP_ROOT", DEFAULT_ROOT))
    u.add_argument("--run-dir", default=None, help="where systemd reads them "
                   "(default /run/systemd/system)")
    u.add_argument("--start", action="store_true",
                   help="then reload systemd and start what they enable")
    u.set_defaults(func=cmd_units)

    b = usub.add_parser("build", help="at the hub: sign an update bundle for a wheel")
    data_dir_arg(b)
    b.add_argument("wheel")
    b.add_argument("--min-version", required=True)
    b.add_argument("--days", type=int, default=90, help="days until the bundle expires")
    b.add_argument("--out", required=True)
    b.set_defaults(func=cmd_build)

    o = usub.add_parser("offer", help="at the hub: offer a signed bundle to devices on sync")
    data_dir_arg(o)
    o.add_argument("file")
    o.set_defaults(func=cmd_offer)


def _address(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text}: give HOST:PORT")
    return host, int(port)


def _notice(args):
    """What answers on the web's ports while the web service is stopped for a migration
    (provisioning/notice.py), or None."""
    if not (args.notice_http or args.notice_https):
        return None
    from provisioning import notice
    from sync import pki

    return lambda: notice.answer(args.notice_http, args.notice_https,
                                 tls=pki.server_files(args.data))


def _device_settings(data):
    from appliance.core.context import load_settings
    from provisioning.config import trusted_keys

    settings = load_settings(data)
    ring = trusted_keys(settings)
    if not ring:
        raise SystemExit("thuvien: this device is not enrolled: no hub key to check updates")
    return settings, ring


def cmd_apply(args):
    from provisioning import units, updates
    from sync import fetch

    require_data(args)
    if bool(args.file) == bool(args.pending):
        raise SystemExit("thuvien: give an update FILE or --pending")
    settings, ring = _device_settings(args.data)
    kw = {"library": settings["library"], "device": settings["device_id"],
          "health": updates.command_health(args.health_url)}
    kw["data"] = args.data  # a new schema is migrated as a step of the update
    kw["notice"] = _notice(args)
    services = updates.Services(args.restart, args.pause, units.here(args.root)) \
        if args.restart else None
    if services:
        kw["restart"], kw["stop"] = services.restart, services.stop
    inst = updates.Installation(Path(args.root))
    try:
        if args.pending:
            results = updates.apply_pending(Path(args.data) / fetch.INCOMING, inst, ring,
                                            may_migrate=_may_migrate(args, settings), **kw)
        else:
            results = [updates.apply(Path(args.file), inst, ring, **kw)]
    finally:
        if services:
            services.resume()
    print(json.dumps(results, ensure_ascii=False, indent=1))
    return 0 if all(r["result"] in ("installed", "waiting") for r in results) else 2


def cmd_units(args):
    from provisioning import units

    run_dir = Path(args.run_dir) if args.run_dir else units.RUN_DIR
    if not run_dir.is_dir():  # sd_booted(): systemd makes it as it starts
        raise Failed(f"{run_dir} does not exist: systemd does not run this machine")
    try:
        done = (units.start if args.start else units.link)(Path(args.root), run_dir)
    except FileNotFoundError as exc:
        raise Failed(f"the running version has no systemd units to link ({exc})") from exc
    print(json.dumps(done, indent=1))


def _may_migrate(args, settings):
    """None (any time) with --now, else whether the device's update window allows it."""
    from provisioning import window

    return None if args.now else window.asker(settings)


def cmd_carry(args):
    """The events a version wrote after the update's copy, before its health check failed
    and the copy was put back (provisioning/updates.carry_back): taken with this version's
    own code, as a batch from elsewhere is, each checked against its hash and its chain."""
    from appliance.core import events

    require_data(args)
    written = read_json(args.file)
    with opened(args) as ctx:
        taken = events.ingest(ctx, written)
    print(json.dumps({"applied": taken["applied"], "skipped": taken["skipped"]}))


def cmd_status(args):
    from provisioning import updates

    status = updates.Installation(Path(args.root)).status()
    if args.data:
        status.update(_waiting(Path(args.data)))
    print(json.dumps(status, ensure_ascii=False, indent=1))


def _waiting(data):
    from appliance.core.context import load_settings
    from provisioning import window

    folder = data / window.WAITING
    return {"waiting": sorted(p.name for p in folder.glob("*.tvu")),
            "update_window": str(window.of(load_settings(data)))}


def cmd_build(args):
    from provisioning import bundle, updates
    from sync import keys

    if not args.data:
        raise SystemExit("thuvien: give the hub's data folder with --data or THUVIEN_DATA")
    from datetime import timedelta

    hub_key = keys.load(args.data).sign
    out = updates.build_bundle(Path(args.wheel), hub_key, Path(args.out),
                               min_version=args.min_version, valid_for=timedelta(days=args.days))
    print(f"{out} signed by key {bundle.key_id(hub_key.public_key())}", file=sys.stderr)


def cmd_offer(args):
    from provisioning import bundle, updates
    from sync import keys

    if not args.data:
        raise SystemExit("thuvien: give the hub's data folder with --data or THUVIEN_DATA")
    try:
        target = updates.offer(args.data, Path(args.file), keys.load(args.data).sign)
    except (bundle.BundleRefused, bundle.BundleMalformed) as exc:
        raise Failed(exc) from exc
    print(f"offered {target.name}: devices running an older version fetch it on sync")
    return 0
