"""An installed `thuvien` program, run as a person or a unit would run it.

Every command runs from `cwd`, a folder outside the source tree, with no PYTHONPATH,
so only what was installed can be imported.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def clean_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "THUVIEN_DATA")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run(program, *args, cwd: Path, stdin: str | None = None, timeout=120):
    """Run an installed program; fail the test with its own words if it fails."""
    result = subprocess.run([str(program), *map(str, args)], cwd=cwd, env=clean_env(),
                            input=stdin, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


class Serving:
    """`<program> serve --data DATA` on loopback until stop(); `url` once it answers.

    `program` is the installed script, or an argv prefix such as `[python, -m, appliance.cli]`
    for the checkout; `extra` adds serve options (HTTPS and SIP2-over-TLS ports)."""

    def __init__(self, program, data: Path, cwd: Path, port: int = 0, sip2_port: int = 0,
                 extra=(), log_dir: Path | None = None, env: dict | None = None):
        argv = list(map(str, program)) if isinstance(program, (list, tuple)) else [str(program)]
        self.log = (log_dir or cwd) / f"serve-{time.monotonic_ns()}.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [*argv, "serve", "--data", str(data), "--host", "127.0.0.1",
                 "--port", str(port), "--sip2-port", str(sip2_port), "--threads", "4",
                 *map(str, extra)],
                cwd=cwd, env=env or clean_env(), stdout=subprocess.PIPE, stderr=log, text=True)
        line = self.proc.stdout.readline()  # the banner, printed once the socket listens
        if "serving on http://" not in line:
            self.stop()
            raise AssertionError(f"thuvien serve did not start: {line}{self.log.read_text()}")
        self.banner = line
        self.url = line.split("serving on ", 1)[1].split()[0].rstrip("/")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        self.proc.stdout.close()
