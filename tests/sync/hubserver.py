"""Serve one data folder (hub or branch) with waitress on loopback, for the sync tests.

Usage: python hubserver.py DATA_DIR [PORT] [THREADS]; prints "READY <port>".
"""

import sys

import sync.hub  # noqa: F401  (registers sync's tables before the database opens)
from appliance import web

if "sync.hub:bp" not in web.BLUEPRINTS:
    web.BLUEPRINTS.append("sync.hub:bp")


def main():
    from waitress.server import create_server

    app = web.create_app(sys.argv[1])
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    server = create_server(app, host="127.0.0.1", port=port, threads=threads,
                           connection_limit=200, channel_timeout=60)
    print("READY", server.effective_port, flush=True)
    server.run()


if __name__ == "__main__":
    main()
