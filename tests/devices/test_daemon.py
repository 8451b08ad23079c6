import json
import os
import threading
import time
import tty
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from devices import config as cfg
from devices import printer
from devices.daemon import Daemon
from devices.rfid.iso28560 import TagData
from devices.rfid.reader import AFI_LOAN, AFI_SHELF
from devices.rfid.sim_feig import SimFeig


class Receiver:
    """A tiny appliance stand-in on loopback: records device events, can refuse for a while."""

    def __init__(self):
        self.events, self.tokens, self.fail_next = [], [], 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path != "/api/v1/device-events":
                    self.send_response(404)
                elif outer.fail_next:
                    outer.fail_next -= 1
                    self.send_response(503)
                else:
                    outer.events.append(json.loads(body))
                    outer.tokens.append(self.headers.get("X-Thuvien-Device-Token"))
                    self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def of(self, type_):
        return [e for e in self.events if e["type"] == type_]


def wait_for(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


class Pty:
    def __init__(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)

    def read_until(self, end: bytes, timeout=10.0) -> bytes:
        got = bytearray()
        os.set_blocking(self.master, False)
        deadline = time.monotonic() + timeout
        while not got.endswith(end) and time.monotonic() < deadline:
            try:
                got += os.read(self.master, 65536)
            except BlockingIOError:
                time.sleep(0.01)
        return bytes(got)

    def close(self):
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def rig(tmp_path):
    receiver, sim, scanner, lp = Receiver(), SimFeig().start(), Pty(), Pty()
    (tmp_path / "device-token").write_text("s3cret-token\n")
    (tmp_path / "devices.json").write_text(json.dumps({
        "appliance": receiver.url, "api": {"host": "127.0.0.1", "port": 0},
        "scanners": [{"name": "desk", "kind": "serial", "port": scanner.path}],
        "rfid": {"name": "pad", "protocol": "feig", "port": sim.path, "poll": 0.05,
                 "parity": "N"},
        "printer": {"target": lp.path, "width": 384},
        "backoff": {"initial": 0.05, "max": 0.2},
    }))
    daemon = Daemon(cfg.load(tmp_path))
    daemon.poster.backoff = (0.02, 0.1)
    daemon.start()
    api = f"http://127.0.0.1:{daemon.api.port}"
    assert wait_for(lambda: ready(daemon))  # a port flushes its input when opened: wait
    yield daemon, api, receiver, sim, scanner, lp
    daemon.stop()
    sim.stop()
    receiver.stop()
    scanner.close()
    lp.close()


def ready(daemon):
    drivers = daemon.status()["drivers"]
    return (drivers["scanner:desk"].get("device") == "running"
            and drivers["rfid:pad"]["state"] == "running")


def test_scans_rfid_and_commands_end_to_end(rig):
    daemon, api, receiver, sim, scanner, lp = rig
    os.write(scanner.master, b"3500123\r\n")
    assert wait_for(lambda: receiver.of("barcode"))
    assert receiver.of("barcode") == [{"source": "scanner:desk", "type": "barcode",
                                       "action": "scan", "data": {"code": "3500123"}}]
    assert set(receiver.tokens) == {"s3cret-token"}

    tag = sim.add_tag(TagData("3500124", country="VN", library="PY-DH01"))
    assert wait_for(lambda: receiver.of("rfid"))
    present = receiver.of("rfid")[0]
    assert present["source"] == "rfid:pad" and present["action"] == "present"
    assert present["data"]["tags"] == [{
        "uid": tag.uid, "barcode": "3500124", "owner": "VN-PY-DH01", "set_index": 1,
        "set_size": 1, "afi": AFI_SHELF, "usage": "item"}]

    r = requests.post(f"{api}/rfid/afi", json={"uid": tag.uid, "afi": AFI_LOAN}, timeout=5)
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert sim.tags[tag.uid].afi == AFI_LOAN
    assert requests.get(f"{api}/rfid/tags", timeout=5).json()["tags"][0]["afi"] == AFI_LOAN

    tag.present = False
    assert wait_for(lambda: len(receiver.of("rfid")) == 2)
    removed = receiver.of("rfid")[1]
    assert removed["action"] == "removed" and removed["data"]["tags"][0]["uid"] == tag.uid

    receipt = {"title": "Thư viện Đông Hòa", "lines": ["Đã mượn: Lịch sử Phú Yên"],
               "footer": "Hạn trả 15/06"}
    r = requests.post(f"{api}/print", json=receipt, timeout=10)
    assert r.status_code == 200
    data = lp.read_until(printer.FEED_AND_CUT)
    assert len(data) == r.json()["bytes"]
    expected = printer.render(receipt["title"], receipt["lines"], receipt["footer"])
    assert printer.decode_raster(data).tobytes() == expected.tobytes()


def test_events_pass_the_appliance_validator(rig):
    # the receiving side of the contract, as the appliance implements it
    from appliance.web.device_events import validate

    daemon, api, receiver, sim, scanner, _ = rig
    sim.add_tag(TagData("3500125", country="VN", library="PY-DH01"))
    sim.add_tag(TagData("P77", usage=8))  # no owner on the tag
    sim.add_tag(bytes(34), uid="E004010000000099")  # blank tag
    os.write(scanner.master, b"3500125\r")
    daemon.emit("card:reader0", "card", "inserted", {"uid": "04A1B2C3", "reader": "ACS"})
    assert wait_for(lambda: len(receiver.events) >= 3)
    for event in receiver.events:
        assert validate(event)["data"]


def test_bad_commands_change_nothing(rig):
    daemon, api, receiver, sim, *_ = rig
    tag = sim.add_tag(TagData("1"))
    assert wait_for(lambda: receiver.of("rfid"))
    cases = [
        ("/rfid/afi", {"uid": "xyz", "afi": 7}, 400, "bad_uid"),
        ("/rfid/afi", {"uid": tag.uid, "afi": 300}, 400, "bad_afi"),
        ("/rfid/afi", {"uid": tag.uid, "afi": True}, 400, "bad_afi"),
        ("/rfid/afi", {"uid": "E0040100FFFFFFFF", "afi": 194}, 404, "tag_not_found"),
        ("/print", {"title": 5}, 400, "bad_receipt"),
        ("/print", {}, 400, "bad_receipt"),
        ("/nowhere", {}, 404, "not_found"),
    ]
    for path, body, status, code in cases:
        r = requests.post(api + path, json=body, timeout=5)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), path
    r = requests.post(api + "/rfid/afi", data=b"{not json", timeout=5)
    assert r.json()["error"]["code"] == "bad_json"
    assert sim.tags[tag.uid].afi == AFI_SHELF


def test_crashing_driver_is_restarted_and_others_keep_running(rig):
    daemon, api, receiver, sim, scanner, _ = rig
    runs = []

    class Flaky:
        state = "running"

        def run(self, stop):
            runs.append(time.monotonic())
            if len(runs) < 3:
                raise OSError("device went away")
            stop.wait()

    sup = daemon.add_driver("scanner:flaky", Flaky)
    assert wait_for(lambda: sup.state == "restarting" and "went away" in (sup.error or ""))
    status = requests.get(f"{api}/status", timeout=5).json()["drivers"]
    assert status["scanner:desk"]["state"] == "running"
    assert wait_for(lambda: len(runs) == 3 and sup.state == "running")
    assert sup.restarts == 2 and sup.error is None
    assert runs[1] - runs[0] >= 0.05 and runs[2] - runs[1] >= 0.1  # back-off doubles
    os.write(scanner.master, b"X1\r")  # the other driver never noticed
    assert wait_for(lambda: any(e["data"] == {"code": "X1"} for e in receiver.events))


def test_rfid_reader_missing_restarts_and_api_says_so(tmp_path):
    receiver = Receiver()
    conf = cfg.parse({"appliance": receiver.url, "api": {"port": 0},
                      "rfid": {"protocol": "3m810", "port": str(tmp_path / "ttyNONE")},
                      "backoff": {"initial": 0.02, "max": 0.05}})
    daemon = Daemon(conf).start()
    try:
        sup = daemon.supervisors["rfid:pad"]
        assert wait_for(lambda: sup.restarts >= 5 and sup.state == "failed")
        assert "ttyNONE" in sup.error
        r = requests.post(f"http://127.0.0.1:{daemon.api.port}/rfid/afi",
                          json={"uid": "E004010000000001", "afi": 7}, timeout=5)
        assert r.status_code == 503 and r.json()["error"]["code"] == "rfid_unavailable"
        r = requests.post(f"http://127.0.0.1:{daemon.api.port}/print",
                          json={"title": "x"}, timeout=5)
        assert r.status_code == 404 and r.json()["error"]["code"] == "no_printer"
    finally:
        daemon.stop()
        receiver.stop()


def test_events_wait_in_queue_while_appliance_is_down(rig):
    daemon, api, receiver, sim, scanner, _ = rig
    receiver.fail_next = 4
    for code in (b"A1\r", b"A2\r", b"A3\r"):
        os.write(scanner.master, code)
    assert wait_for(lambda: len(receiver.of("barcode")) == 3)
    assert [e["data"]["code"] for e in receiver.of("barcode")] == ["A1", "A2", "A3"]
    # the third event is recorded before its answer reaches the poster, which only then
    # takes it off the queue: wait for that, as for the events
    assert wait_for(lambda: daemon.poster.status()["pending"] == 0)
    assert receiver.fail_next == 0


def test_appliance_unreachable_then_back(tmp_path):
    receiver = Receiver()
    url = receiver.url
    receiver.stop()  # nobody listens on that port now
    conf = cfg.parse({"appliance": url, "api": {"port": 0}}, token="t")
    daemon = Daemon(conf)
    daemon.poster.backoff = (0.02, 0.05)
    daemon.start()
    try:
        daemon.emit("card:reader0", "card", "inserted", {"uid": "04A1", "reader": "r"})
        assert wait_for(lambda: daemon.poster.last_error is not None)
        assert "unreachable" in daemon.poster.last_error and daemon.poster.status()["pending"]
    finally:
        daemon.stop()


@pytest.mark.parametrize("raw, message", [
    ({"rfid": {"protocol": "acme", "port": "/dev/x"}}, "protocol must be"),
    ({"scanners": [{"kind": "serial"}]}, "needs 'port'"),
    ({"scanners": [{"kind": "evdev", "vid": "zz"}]}, "hex USB id"),
    ({"api": {"host": "0.0.0.0"}}, "loopback"),
    ({"printer": {"target": "/dev/usb/lp0", "width": 500}}, "384 or 576"),
    ({"rfdi": {}}, "unknown sections: rfdi"),
])
def test_config_errors_are_clear(raw, message):
    with pytest.raises(cfg.ConfigError, match=message):
        cfg.parse(raw)


def test_config_files(tmp_path):
    assert cfg.load(tmp_path).appliance == cfg.DEFAULT_APPLIANCE
    (tmp_path / "devices.toml").write_text(
        'appliance = "http://127.0.0.1:9000/"\n[[scanners]]\nname = "kiosk"\nkind = "evdev"\n'
        'match = "Honeywell"\nvid = "0c2e"\n[cards]\nreaders = ["ACS"]\n')
    c = cfg.load(tmp_path)
    assert c.appliance == "http://127.0.0.1:9000" and c.scanners[0]["vid"] == 0x0C2E
    assert c.cards == {"name": "reader0", "readers": ["ACS"]}
    (tmp_path / "devices.json").write_text("{broken")
    with pytest.raises(cfg.ConfigError, match="devices.json"):
        cfg.load(tmp_path)
