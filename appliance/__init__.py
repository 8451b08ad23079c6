"""thuvien: an offline-first library appliance."""

import importlib
import sys

__version__ = "0.1.0"


def _peewee_without_postgres_drivers():
    """peewee imports every PostgreSQL driver it finds when it is imported: psycopg2 and
    its libraries are 6 MB of a branch's server, which runs on SQLite and never uses them.
    peewee is imported here with them hidden; core/db.py's PostgreSQL database imports
    psycopg2 itself when a hub opens one (its `_Psycopg2` adapter). A peewee without
    driver adapters (an older version) cannot do without them: it is imported again whole."""
    if "peewee" in sys.modules or "psycopg2" in sys.modules:
        return
    hidden = [name for name in ("psycopg2", "psycopg", "psycopg2cffi") if name not in sys.modules]
    for name in hidden:  # None in sys.modules: `import psycopg2` raises ImportError
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import peewee
    finally:
        for name in hidden:
            sys.modules.pop(name, None)
    if not hasattr(peewee, "Psycopg2Adapter"):
        importlib.reload(peewee)


_peewee_without_postgres_drivers()
