"""`thuvien firstboot --boot DIR`: enrol a fresh Pi from the token on its boot partition."""

import json

from . import Failed, data_dir_arg, require_data

EXIT_PERMANENT = 3  # thuvien-firstboot.service: RestartPreventExitStatus=3


def register(sub):
    p = sub.add_parser("firstboot", help="enrol this Pi from the boot partition's token file")
    data_dir_arg(p)
    p.add_argument("--boot", default="/boot/firmware", help="where thuvien.json is")
    p.set_defaults(func=cmd_firstboot)


def cmd_firstboot(args):
    from provisioning import firstboot

    try:
        result = firstboot.run(args.boot, require_data(args))
    except firstboot.FirstBootError as exc:
        raise Failed(exc, EXIT_PERMANENT if exc.permanent else 1) from exc
    print(json.dumps(result, ensure_ascii=False))
    return 0
