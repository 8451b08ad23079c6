"""`thuvien devices`: the device daemon, configured by devices.json in the data folder."""

import json

from . import Failed, data_dir_arg, require_data


def register(sub):
    p = sub.add_parser("devices", help="run the device daemon (scanners, RFID, cards, printer)")
    data_dir_arg(p)
    p.add_argument("--check", action="store_true",
                   help="read the configuration, print the drivers it names, and exit")
    p.set_defaults(func=cmd_devices)


def cmd_devices(args):
    from devices import config, daemon

    try:
        conf = config.load(require_data(args))
    except config.ConfigError as exc:
        raise Failed(f"devices configuration: {exc}") from exc
    if args.check:
        drivers = [f"scanner:{s['name']}" for s in conf.scanners]
        drivers += [f"rfid:{conf.rfid['name']}"] if conf.rfid else []
        drivers += [f"card:{conf.cards['name']}"] if conf.cards else []
        print(json.dumps({"appliance": conf.appliance, "api": f"{conf.host}:{conf.port}",
                          "drivers": drivers, "printer": bool(conf.printer),
                          "token": bool(conf.token)}, indent=2))
        return 0
    if not conf.token:
        raise Failed("no device-token in the data folder (made by `thuvien init`)")
    daemon.run(conf)
    return 0
