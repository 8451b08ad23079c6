"""A PostgreSQL server of a test's own, to stop and start at will: the shared one that
scripts/test-services.sh runs serves every other test and must stay up."""

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.conftest import free_port, unavailable


def _bindir():
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                            key=lambda p: int(Path(p).parent.name), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return candidate
    found = shutil.which("initdb")
    return os.path.dirname(found) if found else None


class ThrowawayPostgres:
    """initdb into a temporary folder, a free port on loopback, fsync off. As root the
    server runs as the postgres user, which owns the folder (PostgreSQL refuses root)."""

    USER = "thuvien"

    def __init__(self):
        self.bindir = _bindir()
        if self.bindir is None:
            unavailable("PostgreSQL's initdb is not installed")
        self.as_user = "postgres" if os.geteuid() == 0 else None
        self.root = Path(tempfile.mkdtemp(prefix="thuvien-pg-"))
        if self.as_user:
            shutil.chown(self.root, self.as_user, self.as_user)
        self.data = self.root / "data"
        self.port = free_port()

    def _run(self, tool, *args):
        out = subprocess.run([os.path.join(self.bindir, tool), *args], user=self.as_user,
                             capture_output=True, text=True, timeout=120)
        if out.returncode:
            log = (self.root / "server.log")
            raise RuntimeError(f"{tool} failed: {out.stderr or out.stdout}\n"
                               + (log.read_text()[-2000:] if log.exists() else ""))

    def init(self):
        self._run("initdb", "-D", str(self.data), "-U", self.USER, "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        return self

    def start(self):
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c unix_socket_directories={self.root}")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")

    def stop(self):
        """A fast shutdown: the server ends every session, as on a restart or an upgrade."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def url(self, database="postgres", password=None):
        auth = f"{self.USER}:{password}" if password else self.USER
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name):
        import psycopg2

        conn = psycopg2.connect(self.url())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url(name)

    def sql(self, database, text):
        import psycopg2

        conn = psycopg2.connect(self.url(database))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(text)
            rows = cur.fetchall() if cur.description else None
        conn.close()
        return rows

    def remove(self):
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
