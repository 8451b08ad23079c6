"""The devices daemon (`thuvien devices`): drivers in supervised threads, events to the
appliance, and the command API on the loopback.

Each configured device runs in its own thread under a Supervisor, so a crashing driver
is restarted with back-off while the others (and circulation) carry on.
"""

import logging
import signal
import threading

from . import printer as printer_mod
from .api import ApiError, ApiServer, afi_request, print_request
from .config import Config
from .poster import Poster
from .supervisor import Supervisor

log = logging.getLogger(__name__)


class Daemon:
    def __init__(self, config: Config):
        self.config = config
        self.stop_event = threading.Event()
        self.poster = Poster(config.appliance, config.token)
        self.supervisors: dict[str, Supervisor] = {}
        self.printer = None
        self.print_lock = threading.Lock()
        self.api = None
        self._poster_thread = None
        self._build()

    # --- wiring -----------------------------------------------------------------------
    def emit(self, source: str, type_: str, action: str, data: dict) -> None:
        self.poster.put(source, type_, action, data)

    def add_driver(self, name: str, factory) -> Supervisor:
        sup = Supervisor(name, factory, self.config.backoff)
        self.supervisors[name] = sup
        if self._poster_thread is not None:  # added while running
            sup.start(self.stop_event)
        return sup

    def _build(self) -> None:
        cfg = self.config
        for entry in cfg.scanners:
            self.add_driver(f"scanner:{entry['name']}", self._scanner_factory(entry))
        if cfg.rfid:
            self.add_driver(f"rfid:{cfg.rfid['name']}", self._rfid_factory(cfg.rfid))
        if cfg.cards:
            self.add_driver(f"card:{cfg.cards['name']}", self._cards_factory(cfg.cards))
        if cfg.printer:
            p = cfg.printer
            self.printer = printer_mod.Printer(p["target"], p.get("width", 384),
                                               p.get("baudrate", 19200), p.get("kind", "auto"))

    def _scanner_factory(self, entry):
        source = f"scanner:{entry['name']}"

        def on_scan(code):
            self.emit(source, "barcode", "scan", {"code": code})

        def make():
            if entry["kind"] == "serial":
                from .scanner_serial import SerialScanner
                return SerialScanner(on_scan, entry["port"], entry.get("baudrate", 9600))
            from .scanner_evdev import EvdevScanner
            return EvdevScanner(on_scan, name=entry.get("match"), vid=entry.get("vid"),
                                pid=entry.get("pid"))
        return make

    def _rfid_factory(self, entry):
        source = f"rfid:{entry['name']}"

        def make():
            from .rfid.poller import RfidPoller
            return RfidPoller(lambda action, data: self.emit(source, "rfid", action, data),
                              **{k: v for k, v in entry.items() if k != "name"})
        return make

    def _cards_factory(self, entry):
        source = f"card:{entry['name']}"

        def make():
            from .cards import CardWatcher
            return CardWatcher(lambda action, data: self.emit(source, "card", action, data),
                               readers=entry.get("readers"))
        return make

    # --- life -------------------------------------------------------------------------
    def start(self):
        self._poster_thread = threading.Thread(target=self.poster.run, args=(self.stop_event,),
                                               daemon=True, name="event-poster")
        self._poster_thread.start()
        for sup in self.supervisors.values():
            sup.start(self.stop_event)
        self.api = ApiServer(self, self.config.host, self.config.port).start()
        log.info("devices daemon: %d drivers, command API on %s:%d", len(self.supervisors),
                 self.config.host, self.api.port)
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self.api:
            self.api.stop()
        self.poster.stop()
        for sup in self.supervisors.values():
            if sup.thread:
                sup.thread.join(5)
        if self._poster_thread:
            self._poster_thread.join(5)

    # --- command API ------------------------------------------------------------------
    def _rfid(self):
        for name, sup in self.supervisors.items():
            if name.startswith("rfid:"):
                if sup.state != "running" or sup.driver is None:
                    raise ApiError(503, "rfid_unavailable", f"RFID reader is {sup.state}")
                return sup.driver
        raise ApiError(404, "no_rfid_reader", "no RFID reader is configured")

    def api_set_afi(self, data: dict) -> dict:
        from .rfid.link import ReaderError, TagError

        uid, afi = afi_request(data)
        try:
            self._rfid().set_afi(uid, afi)
        except TagError as exc:
            raise ApiError(404, "tag_not_found", str(exc)) from None
        except ReaderError as exc:
            raise ApiError(502, "reader_error", str(exc)) from None
        return {"ok": True}

    def api_tags(self) -> dict:
        return {"tags": self._rfid().tags()}

    def api_print(self, data: dict) -> dict:
        title, lines, footer = print_request(data)
        if self.printer is None:
            raise ApiError(404, "no_printer", "no receipt printer is configured")
        try:
            with self.print_lock:
                sent = self.printer.print_receipt(title, lines, footer)
        except OSError as exc:  # serial.SerialException is an OSError too
            raise ApiError(502, "printer_error", f"printer: {exc}") from None
        return {"ok": True, "bytes": sent}

    def status(self) -> dict:
        return {"drivers": {n: s.status() for n, s in self.supervisors.items()},
                "printer": bool(self.printer), "events": self.poster.status()}


def run(config: Config) -> None:
    """Run until SIGTERM or Ctrl-C (systemd stops the unit with SIGTERM)."""
    daemon = Daemon(config).start()
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    try:
        done.wait()
    finally:
        daemon.stop()
