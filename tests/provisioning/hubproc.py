"""A hub (or branch) data folder served by waitress on loopback in a child process.

A process of its own because core binds one database per process.
Usage: python hubproc.py DATA_DIR; prints "READY <port>".
"""

import os
import signal
import subprocess
import sys
from pathlib import Path


def main():
    import sync.hub  # noqa: F401  (sync's tables and routes)
    from appliance import web

    if "sync.hub:bp" not in web.BLUEPRINTS:
        web.BLUEPRINTS.append("sync.hub:bp")
    from waitress.server import create_server

    server = create_server(web.create_app(sys.argv[1]), host="127.0.0.1", port=0, threads=4)
    print("READY", server.effective_port, flush=True)
    server.run()


class Served:
    def __init__(self, data_dir):
        self.proc = subprocess.Popen([sys.executable, __file__, str(data_dir)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=dict(os.environ, PYTHONUNBUFFERED="1"),
                                     cwd=Path(__file__).resolve().parents[2])
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError("server did not start: " + line + self.proc.stderr.read())
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()


if __name__ == "__main__":
    main()
