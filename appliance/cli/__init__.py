"""The `thuvien` command. Each area keeps its subcommands in a module of its own,
listed in COMMANDS; a module defines `register(subparsers)`."""

import argparse
import importlib
import logging
import os
import sys

import peewee as pw

from .. import __version__
from ..core.context import NotInitialised
from ..core.db import DatabaseError, one_line, server_unreachable
from ..core.errors import DomainError

COMMANDS = [
    "appliance.cli.core",
    "appliance.cli.update",
    "appliance.cli.firstboot",
    "appliance.cli.catalogue",
    "appliance.cli.sync",
    "appliance.cli.hub",
    "appliance.cli.devices",
    "appliance.cli.report",
    "appliance.cli.patrons",
    "appliance.cli.stocktake",
    "appliance.cli.digital",
    "appliance.cli.requests",
    "appliance.cli.notices",
    "appliance.cli.recommend",
    "appliance.cli.training",
]


def data_dir_arg(parser):
    parser.add_argument("--data", default=os.environ.get("THUVIEN_DATA"),
                        help="data folder (default: $THUVIEN_DATA)")


def require_data(args):
    if not args.data:
        raise SystemExit("thuvien: give the data folder with --data or THUVIEN_DATA")
    return args.data


def open_context(args):
    """The library in the data folder the command was given."""
    from ..core.context import Context

    return Context.open(require_data(args))


def build_parser():
    parser = argparse.ArgumentParser(prog="thuvien", description="thuvien library appliance")
    parser.add_argument("--version", action="version", version=f"thuvien {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except DomainError as e:
        print(f"thuvien: {e}", file=sys.stderr)
        return 1
    except (NotInitialised, DatabaseError) as e:
        print(f"thuvien: {e}", file=sys.stderr)
        return 1
    except (pw.OperationalError, pw.InterfaceError) as e:
        if not server_unreachable(e):
            raise
        print(f"thuvien: lost the PostgreSQL server: {one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


