"""The `thuvien` command. Each area keeps its subcommands in a module of its own,
listed in COMMANDS; a module defines `register(subparsers)`.

Every module listed is imported to build the parser, `thuvien serve` too, and what they
import at their top stays in the server's memory for its whole life: a command that needs
a heavy library (requests, pymarc, the update bundles) imports it in its own function."""

import argparse
import importlib
import logging
import os
import sys
from contextlib import contextmanager

import peewee as pw

from .. import __version__
from ..core.context import NotInitialised
from ..core.db import DatabaseError, one_line, server_unreachable
from ..core.errors import DomainError

COMMANDS = [
    "appliance.cli.core",
    "appliance.cli.update",
    "appliance.cli.migrate",
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


def translator(lang):
    """tr(msgid, **params) in `lang`, from the compiled catalogue the web uses too."""
    from .. import l10n

    words = {} if lang == "en" else l10n.messages(lang)

    def tr(msgid, **params):
        text = words.get(msgid) or msgid
        return text % params if params else text
    return tr


class Failed(Exception):
    """A command that cannot go on, raised with the words that say why: main prints
    "thuvien: <why>" on standard error and exits with `exit_code`."""

    def __init__(self, why, exit_code=1):
        super().__init__(why)
        self.exit_code = exit_code


def read_json(name):
    """The JSON in file `name` (`-`: standard input), or Failed saying why not."""
    import json
    from pathlib import Path

    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Failed(f"cannot read {name}: {exc}") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise Failed(f"{name} is not JSON: {exc}") from exc


@contextmanager
def opened(args, tr=None):
    """The library in the data folder the command was given, closed however the command
    ends. A refusal from the core (DomainError) goes on to main, which says it in English;
    a command with a --lang gives its `tr` to have it said in that language instead."""
    ctx = open_context(args)
    try:
        yield ctx
    except DomainError as e:
        if tr is None:
            raise
        raise Failed(tr(e.message, **e.params)) from e
    finally:
        ctx.close()


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
    except Failed as e:
        return _failed(e, e.exit_code)
    except (DomainError, NotInitialised, DatabaseError) as e:
        return _failed(e)
    except (pw.OperationalError, pw.InterfaceError) as e:
        if not server_unreachable(e):
            raise
        return _failed(f"lost the PostgreSQL server: {one_line(e)}")
    except KeyboardInterrupt:
        return 130


def _failed(why, exit_code=1):
    """The one way a command says it failed."""
    print(f"thuvien: {why}", file=sys.stderr)
    return exit_code


