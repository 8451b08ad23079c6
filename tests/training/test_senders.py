"""A practice copy sends nothing out: the devices daemon (a real HTTP server on
loopback standing in for it) hears the real library's receipt and never the copy's."""

import http.server
import threading

from appliance import devices_client
from appliance.core.context import load_settings, save_settings
from appliance.core.training import practice


class _Daemon(http.server.BaseHTTPRequestHandler):
    heard: list[str] = []

    def do_POST(self):  # noqa: N802  (the standard library's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Daemon.heard.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_practice_prints_nothing_and_writes_no_tag(ctx, data_dir):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Daemon)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = load_settings(data_dir)
        settings["devices_url"] = f"http://127.0.0.1:{server.server_port}"
        save_settings(data_dir, settings)
        assert devices_client.print_receipt(ctx, "Phiếu mượn", ["Truyện Kiều"])
        pc = practice.open_copy(ctx, "thuthu")
        try:
            assert not devices_client.print_receipt(pc, "Phiếu mượn", ["Truyện Kiều"])
            assert not devices_client.set_afi(pc, "E004010012345678", devices_client.AFI_ON_LOAN)
        finally:
            pc.close()
        assert _Daemon.heard == ["/print"]
    finally:
        server.shutdown()
