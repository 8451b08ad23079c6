"""The answer to a machine's retry: the same request again because our answer was lost.

Only a request that changes something (checkout, checkin, renew, hold, block, fee
paid...) and carries a sequence number (AY) is remembered: the specification has a
machine resend with the same sequence number, and count up for a new request, so an
identical line with the same AY is a retry. Without AY two identical lines may be two
requests (a machine that never changes its transaction date), so each is run; but a
fee paid (37) that carries the machine's own transaction id (BK) names its payment, so
the same line with the same BK is a retry of it even without AY.

Fee paid needs this most: run again, a "pay everything" finds nothing left to pay and
is refused, and the machine tells a reader whose money was taken that the payment
failed. End patron (35) only forgets the reader's PIN on this connection and says
goodbye, so running it again gives the same answer; item status update (19) changes
nothing (it is refused); neither is remembered.

The answers are the server's, not a connection's: a machine that lost its connection
resends on a new one, and is answered by what it sent and who it is (its login).

A retry gets the remembered answer only within a short window and only while nothing
since then touched the copy or the patron it was about (the desk took the copy back, a
hold was placed...): otherwise the request is run again and answered from what holds
now, so a remembered answer never hides a changed state. An accepted payment is the
exception: what it says (this much was received) stays true whatever happens next, and
run again it could pay a fee the desk charged meanwhile with money taken once, so within
the window its retry always gets the remembered answer. Questions (status, patron and
item information) are never remembered; running them again is what makes them true.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from appliance.core import catalogue, dialect, patrons
from appliance.core.errors import DomainError
from appliance.core.models import Event, Loan

from .codec import Message

# seconds: a machine retries after its time-out (we announce 3 s), 3 times, and one that
# lost its connection connects and logs in again first
RETRY_WINDOW = 30.0
CHANGES_STATE = frozenset({"11", "09", "29", "65", "15", "01", "25", "37"})
MOST_REMEMBERED = 1000  # answers held at once, over every machine: the oldest go first


@dataclass
class _Entry:
    reply: bytes
    mark: int  # the last event stored when the answer was made
    at: float
    card: str
    barcode: str
    paid: bool  # an accepted payment: its answer holds whatever happens after it


class RetryMemory:
    """The server's recent state-changing requests and their answers, by the machine
    that sent them (its SIP2 login, else its address) and the request line itself
    (with its sequence number, transaction date and every field): shared by every
    connection, so a machine that lost its connection and resends on a new one is
    answered as before. A payment also carries its own transaction id (BK), which the
    fee commands keep with the payment: that stops a second payment even after the
    window or a restart (fees/commands.pay_amount)."""

    def __init__(self):
        self._entries: dict[tuple[str, bytes], _Entry] = {}
        self._lock = threading.Lock()

    def replay(self, ctx, machine: str, msg: Message, line: bytes) -> bytes | None:
        """The remembered answer if `line` from `machine` is a retry and it still holds."""
        if not _names_itself(msg):
            return None
        with self._lock:
            entry = self._entries.get((machine, line))
        if entry is None:
            return None
        if time.monotonic() - entry.at > RETRY_WINDOW or (
                not entry.paid and _touched_since(ctx, entry)):
            with self._lock:
                self._entries.pop((machine, line), None)
            return None
        return entry.reply

    def remember(self, machine: str, msg: Message, line: bytes, reply: bytes):
        if msg.code not in CHANGES_STATE or not _names_itself(msg):
            return
        # Read after the transaction committed: a change by someone else in the instant
        # between that commit and this read is taken as older than our answer.
        entry = _Entry(reply, _last_event(), time.monotonic(), msg.get("AA"), msg.get("AB"),
                       paid=msg.code == "37" and reply[:3] == b"38Y")
        with self._lock:
            self._forget_old(entry.at)
            self._entries[(machine, line)] = entry

    def _forget_old(self, now: float):
        for key in [k for k, e in self._entries.items() if now - e.at > RETRY_WINDOW]:
            del self._entries[key]
        while len(self._entries) >= MOST_REMEMBERED:
            del self._entries[next(iter(self._entries))]  # dicts keep insertion order


def _names_itself(msg: Message) -> bool:
    """Whether the same line again can only be a retry: it carries a sequence number,
    or it is a payment with the machine's own transaction id."""
    return msg.seq is not None or (msg.code == "37" and bool(msg.get("BK")))


def _last_event() -> int:
    # Plain SQL: it runs after every state-changing request, and peewee's query building
    # would cost more than the query (a seek to the end of a unique index).
    return dialect.run("SELECT MAX(pos) FROM event").fetchone()[0] or 0


def _touched_since(ctx, entry: _Entry) -> bool:
    """Whether an event stored after the answer names the copy, its record, the patron
    or one of their loans (a renewal names only its loan). A copy or card not found
    counts as touched by any event: it may be the one that created it."""
    bodies = [ev.body for ev in Event.select(Event.body).where(Event.pos > entry.mark)]
    if not bodies:
        return False
    names = _names(ctx, entry)
    if names is None:
        return True
    return any(name in body for body in bodies for name in names)


def _names(ctx, entry: _Entry) -> set[str] | None:
    names: set[str] = set()
    try:
        if entry.barcode:
            item = catalogue.get_item(ctx, entry.barcode)
            names |= {item.id, item.bib_id, *_open_loans(Loan.item == item.id)}
        if entry.card:
            patron = patrons.find(ctx, entry.card)
            names |= {patron.id, *_open_loans(Loan.patron == patron.id)}
    except DomainError:
        return None
    return names


def _open_loans(where) -> list[str]:
    return [ln.id for ln in Loan.select(Loan.id).where(where & Loan.returned_at.is_null())]
