"""`thuvien migrate`: bring the library's database to this version's schema, step by step.

An update runs it with the new version's launcher while the web service is stopped
(provisioning/updates.py), so a migration that rebuilds a year of loans runs under the
update unit's timeout, not the web unit's start timeout. A hub's staff run it after
their pg_dump (docs/provisioning.md, "Updates")."""

import json
import time
from pathlib import Path

from . import Failed, data_dir_arg, require_data


def register(sub):
    p = sub.add_parser("migrate", help="migrate the database to this version's schema")
    data_dir_arg(p)
    p.add_argument("--check", action="store_true",
                   help="only print the database's and this version's schema (JSON)")
    p.set_defaults(func=cmd_migrate)


def cmd_migrate(args):
    from ..core import db as dbmod
    from ..core.context import database_of, load_settings

    data = Path(require_data(args))
    target, home = database_of(data, load_settings(data))
    if "://" not in target and not Path(target).exists():
        raise Failed(f"no library database at {target}")
    database = dbmod.connect(target, home, upgrade=False)
    try:
        have = dbmod.schema_version(database)
        if args.check:
            print(json.dumps({"database": have, "software": dbmod.SCHEMA_VERSION}))
            return 0
        return _run(dbmod, database, home, have)
    finally:
        database.close()


def _run(dbmod, database, home, have):
    if have > dbmod.SCHEMA_VERSION:
        raise Failed(f"database schema {have} is newer than this software "
                     f"({dbmod.SCHEMA_VERSION})")
    steps = dbmod.pending_steps(database)
    print(f"schema {have} -> {dbmod.SCHEMA_VERSION}: {len(steps)} steps", flush=True)
    started = time.monotonic()

    def step(version, description):
        print(f"[{time.monotonic() - started:7.1f} s] migration {version}: {description}",
              flush=True)
    try:
        dbmod.migrate(database, home, progress=step)
    except Exception as exc:  # any step's failure: say which, exit non-zero
        raise Failed(f"migration to schema {dbmod.SCHEMA_VERSION} failed at schema "
                     f"{dbmod.schema_version(database)}: {exc}") from exc
    print(f"database at schema {dbmod.SCHEMA_VERSION} "
          f"({time.monotonic() - started:.1f} s)", flush=True)
    return 0
