"""Fetching an update bundle the hub offers in its exchange answer.

The answer (signed by the hub) names the file, its size and sha256; one GET
brings it into ``<data>/updates/incoming/``, where `thuvien-update.path` starts
`thuvien update apply --pending` (which checks the bundle's own signature before
anything is installed). One that migrates the database is kept by the update in
``<data>/updates/waiting/`` until the device's update window (provisioning/window.py);
each sync run, network or not, hands it back to ``incoming/`` once the window is open.
A download cut mid-way resumes from the bytes kept in
a hidden ``.part`` file with an HTTP Range request. The download keeps to the sync
run's deadline and gives up on a stalled link after the link's time-out (sync.link):
what came stays in the ``.part`` for the next run.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import requests

from provisioning.bundle import UPDATE_FILE
from provisioning.window import waiting_beside

from . import link
from .models import get_state, set_state

log = logging.getLogger("thuvien.sync")

INCOMING = "updates/incoming"
CHUNK = 1 << 16


class FetchError(Exception):
    pass


def seen(incoming: Path, name: str) -> bool:
    """Already waiting, installed or refused here: never fetched twice."""
    return (any((incoming / sub / name).exists() for sub in ("", "done", "refused"))
            or (waiting_beside(incoming) / name).exists())


def release_waiting(data_dir, may_migrate) -> list[str]:
    """Hand the bundles kept for the update window back to the update (`incoming/`, where
    thuvien-update.path starts it) when `may_migrate()` says the time has come. Called
    at the end of every sync run, whether the hub answered or not: the sync timer is
    the device's clockwork, every 15 minutes and just after the Pi starts."""
    incoming = Path(data_dir) / INCOMING
    waiting = waiting_beside(incoming)
    names = sorted(p.name for p in waiting.glob("*.tvu")) if waiting.is_dir() else []
    if not names or not may_migrate():
        return []
    try:
        incoming.mkdir(parents=True, exist_ok=True)
        for name in names:
            os.replace(waiting / name, incoming / name)
    except OSError as exc:  # never a reason for the sync run itself to fail
        log.error("sync: could not hand the updates kept for the window back: %s", exc)
        return []
    log.info("sync: the update window is open: %s handed to the update", ", ".join(names))
    return names


def fetch_offer(ctx, session, base_url: str, offer: dict, deadline: link.Deadline | None = None,
                link_: link.Link | None = None) -> dict | None:
    """Fetch an offered bundle; failures are kept for the status and never raise."""
    try:
        name, size, sha = str(offer["file"]), int(offer["size"]), str(offer["sha256"])
        path = str(offer["path"])
    except (KeyError, TypeError, ValueError):
        return _failed("the hub's update offer is malformed")
    if not UPDATE_FILE.match(name) or not path.startswith("/") or size <= 0:
        return _failed(f"the hub offered an unexpected file {name!r}")
    incoming = Path(ctx.data_dir) / INCOMING
    if seen(incoming, name):
        return None
    incoming.mkdir(parents=True, exist_ok=True)
    deadline = deadline or link.Deadline(3600)
    link_ = link_ or link.Link()
    try:
        resumed = _download(session, base_url + path, incoming / f".{name}.part", size, sha,
                            deadline, link_)
    except (FetchError, OSError, requests.RequestException) as exc:
        return _failed(f"{name}: {exc}")
    except link.DeadlinePassed:
        return _failed(f"{name}: the run's deadline came first; the download goes on next run")
    os.replace(incoming / f".{name}.part", incoming / name)
    result = {"file": name, "version": offer.get("version"), "size": size,
              "resumed_from": resumed}
    log.info("sync: update %s fetched (%s bytes)", name, size)
    set_state(update_fetched=result, update_error=None)
    return result


def _download(session, url, part: Path, size: int, sha: str, deadline: link.Deadline,
              link_: link.Link) -> int:
    have = part.stat().st_size if part.exists() else 0
    if have >= size:  # a finished but unchecked part: check it, or start again
        have = 0 if have > size or _sha(part) != sha else have
        if have == size:
            return have
        part.unlink()
    headers = {"Range": f"bytes={have}-"} if have else {}
    timeout = (deadline.bound(link.CONNECT_S), deadline.bound(link_.answer_wait_s(CHUNK)))
    with session.get(url, headers=headers, stream=True, timeout=timeout) as resp:
        if resp.status_code == 200:
            have = 0  # the server sent it whole
        elif resp.status_code != 206:
            raise FetchError(f"HTTP {resp.status_code}")
        with open(part, "ab" if have else "wb") as out:
            try:
                for chunk in resp.iter_content(CHUNK):
                    out.write(chunk)
                    if out.tell() > size or deadline.left() <= 0:
                        break
            finally:  # what came is kept, whatever stopped it
                out.flush()
                os.fsync(out.fileno())
    got = part.stat().st_size
    if got < size:  # cut short: keep what came, the next run asks for the rest
        raise FetchError(f"{got} of {size} bytes so far")
    if got > size or _sha(part) != sha:
        part.unlink()
        raise FetchError("the file does not match the offered size and sha256")
    return have


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _failed(reason: str):
    if get_state("update_error") != reason:
        log.warning("sync: update not fetched: %s", reason)
    set_state(update_error=reason)
    return None
