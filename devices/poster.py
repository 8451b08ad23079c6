"""Hands device events to the appliance: POST /api/v1/device-events, with a retry queue.

Events wait in a bounded queue while the appliance is down or restarting, and go out
in order. An answer of 4xx means retrying cannot help (bad token, bad event): the event
is dropped and logged. When the queue is full the oldest event is dropped: a scan from
ten minutes ago is worth less than the one in front of the patron now.
"""

import collections
import logging
import threading

import requests

log = logging.getLogger(__name__)
PATH = "/api/v1/device-events"
TOKEN_HEADER = "X-Thuvien-Device-Token"


class Poster:
    def __init__(self, appliance: str, token: str, maxlen: int = 500,
                 backoff: tuple = (0.2, 5.0), timeout: float = 3.0):
        self.url = appliance.rstrip("/") + PATH
        self.token = token
        self.queue = collections.deque(maxlen=maxlen)
        self.cond = threading.Condition()
        self.backoff = backoff
        self.timeout = timeout
        self.session = requests.Session()
        self.sent = self.dropped = 0
        self.last_error = None

    def put(self, source: str, type_: str, action: str, data: dict) -> None:
        event = {"source": source, "type": type_, "action": action, "data": data}
        with self.cond:
            if len(self.queue) == self.queue.maxlen:
                self.dropped += 1
                log.warning("event queue full; dropping the oldest event")
            self.queue.append(event)
            self.cond.notify()

    def status(self) -> dict:
        return {"pending": len(self.queue), "sent": self.sent, "dropped": self.dropped,
                "last_error": self.last_error}

    def run(self, stop) -> None:
        wait = self.backoff[0]
        while not stop.is_set():
            with self.cond:
                if not self.queue:
                    self.cond.wait(0.2)
                    continue
                event = self.queue[0]
            if self._send(event):
                with self.cond:
                    if self.queue and self.queue[0] is event:
                        self.queue.popleft()
                wait = self.backoff[0]
            else:
                stop.wait(wait)
                wait = min(wait * 2, self.backoff[1])

    def _send(self, event: dict) -> bool:
        """True when the event is done with (delivered, or refused for good)."""
        try:
            resp = self.session.post(self.url, json=event, timeout=self.timeout,
                                     headers={TOKEN_HEADER: self.token})
        except requests.RequestException as exc:
            self.last_error = f"appliance unreachable: {exc.__class__.__name__}"
            return False
        if resp.status_code < 300:
            self.sent += 1
            self.last_error = None
            return True
        self.last_error = f"appliance answered {resp.status_code}"
        if 400 <= resp.status_code < 500 and resp.status_code not in (408, 429):
            log.error("appliance refused %s event (%s): %s", event["type"], resp.status_code,
                      resp.text[:200])
            self.dropped += 1
            return True
        return False

    def stop(self) -> None:
        with self.cond:
            self.cond.notify_all()
        self.session.close()
