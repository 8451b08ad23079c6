"""How long to wait for the hub over a ward library's link, and when to try again.

A cut connection (FIN or RST) fails at once; a stalled one is given up after the time
the bytes still to cross would take at the slowest speed a branch is expected to have,
plus a round trip and the hub's own work, never a flat two minutes. Every wait is
bounded by the run's deadline. The figures can be set per device in ``settings.json``
under ``sync``: ``slowest_bps``, ``rtt_s``, ``hub_work_s``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

SLOWEST_BPS = 32_000  # bits/s: an EDGE link at its worst still moves this much
RTT_S = 2.0  # a round trip on such a link, with room
HUB_WORK_S = 5.0  # the hub applying a full batch and paging the pull
CONNECT_S = 10.0  # a TCP handshake that takes longer is a dead link
BACKOFF_FIRST_S, BACKOFF_CAP_S = 0.5, 8.0


class DeadlinePassed(Exception):
    pass


@dataclass(frozen=True)
class Link:
    slowest_bps: float = SLOWEST_BPS
    rtt_s: float = RTT_S
    hub_work_s: float = HUB_WORK_S

    @classmethod
    def from_settings(cls, settings: dict) -> Link:
        conf = settings.get("sync") or {}
        return cls(float(conf.get("slowest_bps") or SLOWEST_BPS),
                   float(conf.get("rtt_s") or RTT_S), float(conf.get("hub_work_s") or HUB_WORK_S))

    def crossing_s(self, nbytes: int) -> float:
        """Seconds for ``nbytes`` to cross at the slowest speed, one round trip included."""
        return self.rtt_s + nbytes * 8 / self.slowest_bps

    def answer_wait_s(self, sent_bytes: int) -> float:
        """Longest silence before the first byte of an answer: the whole request may still
        be in buffers along the way, and the hub works on it before answering."""
        return self.crossing_s(sent_bytes) + self.hub_work_s


class Deadline:
    """A run's overall limit, on the monotonic clock."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.at = time.monotonic() + self.seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def check(self) -> None:
        if self.left() <= 0:
            raise DeadlinePassed()

    def bound(self, seconds: float) -> float:
        """``seconds``, or less when the deadline comes first (never below a tenth of one)."""
        self.check()
        return max(0.1, min(seconds, self.left()))

    def sleep(self, seconds: float) -> None:
        """Wait, unless the deadline would pass first: then say so at once."""
        if seconds >= self.left():
            raise DeadlinePassed()
        time.sleep(seconds)


def backoff_s(failures: int) -> float:
    """The wait before retry ``failures`` (1, 2, ...): doubling from half a second, capped,
    with jitter so that branches cut by the same outage do not come back in step."""
    return min(BACKOFF_CAP_S, BACKOFF_FIRST_S * 2 ** (failures - 1)) * random.uniform(0.8, 1.0)
