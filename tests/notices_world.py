"""What the notices' tests share: a library with a hold ready and copies overdue (an
adult with an address, a child with a guardian's, an adult with none), and a real SMTP
server on loopback (aiosmtpd) that keeps what it received."""

import email
import email.policy
import threading
from datetime import timedelta

from appliance.core import circulation, holds, patrons
from appliance.core.models import Loan
from appliance.core.notices import mailconf
from tests.conftest import free_port, unavailable


def make_world(ctx):
    """P0001 (adult, an address) has a hold ready and a copy overdue; C0001 (a child,
    an address of its own that must never be used, and a guardian's) and P0002 (no
    address) have a copy overdue each. Class 6A: C0001 and P0002."""
    bibs = ctx.bibs
    patrons.save(ctx, {"id": patrons.find(ctx, "P0001").id, "email": "an@example.vn"})
    patrons.save(ctx, {"id": patrons.find(ctx, "C0001").id, "email": "huy.con@example.vn",
                       "guardian_email": "duc.phuhuynh@example.vn", "school_class": "6A"})
    patrons.save(ctx, {"id": patrons.find(ctx, "P0002").id, "school_class": "6A"})
    circulation.checkout(ctx, "P0002", "1001")
    holds.place(ctx, "P0001", bibs[0].id)
    circulation.checkin(ctx, "1001")  # trapped for P0001
    for card, barcode in (("P0001", "1002"), ("C0001", "1003"), ("P0002", "1004")):
        circulation.checkout(ctx, card, barcode)
    # days passed: these loans fell due five days ago (state behind the log, as
    # factories.loans_fall_due_today does)
    late = (ctx.clock.today() - timedelta(days=5)).isoformat()
    Loan.update(due_date=late).where(Loan.returned_at.is_null()).execute()
    return late


class Inbox:
    """A real SMTP server on loopback; `messages` are parsed e-mails, `envelopes` the
    (from, to) each was handed over with. `refuse` answers RCPT with it; `hang`: an
    event set when DATA arrives, the reply then waits for `release`."""

    def __init__(self, **server):
        try:
            from aiosmtpd.controller import Controller
        except ImportError:
            unavailable("aiosmtpd is not installed (the test extras)")
        self.messages, self.envelopes, self.refuse = [], [], None
        self.hang, self.arrived, self.release = False, threading.Event(), threading.Event()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **server)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.original_content,
                                                      policy=email.policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.arrived.set()
        if self.hang:
            import asyncio
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return "250 Message accepted"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.release.set()
        self.controller.stop()

    def configure(self, **more):
        mailconf.save({"host": "127.0.0.1", "port": str(self.port), "tls": "none",
                       "from_address": "thuvien@example.vn", "enabled": True, **more})
