"""The device event contract: POST /api/v1/device-events with the device token, fanned
out as server-sent events on /events/stream, over a real waitress server."""

import json
import re
import threading

import pytest
import requests

from appliance.web.device_events import Broker
from tests.factories import PASSWORD

SCAN = {"source": "scanner:kiosk", "type": "barcode", "action": "scan", "data": {"code": "1001"}}


def token(ctx):
    return (ctx.data_dir / "device-token").read_text().strip()


def send(url, body, tok):
    return requests.post(f"{url}/api/v1/device-events", json=body, timeout=5,
                         headers={"X-Thuvien-Device-Token": tok})


def session_for(url, username):
    s = requests.Session()
    page = s.get(f"{url}/login", timeout=5).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = s.post(f"{url}/login", data={"username": username, "password": PASSWORD,
                                     "csrf_token": csrf}, timeout=5, allow_redirects=False)
    assert r.status_code == 302
    return s


def test_token_is_required(server, ctx):
    assert send(server.url, SCAN, "wrong").status_code == 403
    assert requests.post(f"{server.url}/api/v1/device-events", json=SCAN,
                         timeout=5).status_code == 403
    r = send(server.url, SCAN, token(ctx))
    assert r.status_code == 202 and r.json()["accepted"] is True


@pytest.mark.parametrize("body, words", [
    ({"type": "barcode", "action": "scan", "data": {"code": "1"}}, "source"),
    ({**SCAN, "type": "smell"}, "type"),
    ({**SCAN, "action": "present"}, "action"),
    ({**SCAN, "data": {}}, "data.code"),
    ({"source": "rfid:pad", "type": "rfid", "action": "present",
      "data": {"tags": [{"uid": "E0", "afi": 999}]}}, "afi"),
    ({"source": "rfid:pad", "type": "rfid", "action": "present",
      "data": {"tags": [{"uid": "E0"}] * 65}}, "tags"),
    ([1, 2], "object"),
])
def test_bad_events_get_a_clear_400(server, ctx, body, words):
    r = send(server.url, body, token(ctx))
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "bad_device_event" and words in err["message"]


def test_stream_needs_kiosk_or_staff(server):
    r = requests.get(f"{server.url}/events/stream", timeout=5, allow_redirects=False)
    assert r.status_code in (302, 401)
    s = session_for(server.url, "baocao")  # a report viewer has no scanner
    assert s.get(f"{server.url}/events/stream", timeout=5).status_code == 403


def read_events(response, count, into):
    name = None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name == "device":
            into.append(json.loads(line[6:]))
            if len(into) >= count:
                return


def test_events_reach_the_stream(server, ctx):
    ctx.settings["event_heartbeat_seconds"] = 0.2
    s = session_for(server.url, "kiosk")
    got = []
    with s.get(f"{server.url}/events/stream", stream=True, timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        lines = r.iter_lines(decode_unicode=True)
        assert next(lines) == "retry: 2000"
        reader = threading.Thread(target=read_events, args=(r, 2, got))
        reader.start()
        tags = {"source": "rfid:pad", "type": "rfid", "action": "present",
                "data": {"tags": [{"uid": "E004A", "barcode": "1001", "owner": "VN-PY",
                                   "set_index": 1, "set_size": 1, "afi": 7, "usage": "item"}]}}
        for body in (SCAN, tags):
            assert send(server.url, body, token(ctx)).json()["listeners"] == 1
        reader.join(5)
    assert [e["type"] for e in got] == ["barcode", "rfid"]
    assert got[1]["data"]["tags"][0]["barcode"] == "1001"


def test_streams_end_and_are_bounded(server, ctx):
    ctx.settings.update(event_stream_seconds=0.5, event_heartbeat_seconds=0.1)
    s = session_for(server.url, "kiosk")
    with s.get(f"{server.url}/events/stream", stream=True, timeout=5) as r:
        body = r.raw.read()  # returns when the server ends the stream
    assert b"retry: 2000" in body and b": heartbeat" in body


def test_broker_bounds_listeners_and_queues():
    b = Broker(max_listeners=2, queue_size=3)
    first, second = b.subscribe(), b.subscribe()
    third = b.subscribe()  # the oldest listener is told to end
    assert b.listeners == 2
    assert first.get_nowait() is not None
    for n in range(10):
        b.publish({"n": n})
    assert [second.get_nowait()["n"] for _ in range(3)] == [7, 8, 9]
    b.unsubscribe(second)
    b.unsubscribe(third)
    assert b.listeners == 0
