"""The SMTP client that sends the queued notices (core/notices/outbox.py) to the server
the branch admin configured: plain, STARTTLS or SSL, with a login when a user is set.

It claims one row at a time ("sending", committed), asks the server whether the link
is still up (NOOP), hands the message over, and marks the row "sent". What the server
refuses is "failed" with its words; "try later" and no link go back to the queue with a
growing wait; a link lost while the message was being handed over is "unsure" (it may
have gone: it is never sent again by itself). Each message carries a Message-ID made
from the notice's key, the same if staff send it again."""

import hashlib
import logging
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from .core.notices import mailconf, outbox
from .core.notices.store import write
from .core.policy import library_name
from .core.training.practice import is_practice

log = logging.getLogger(__name__)
TIMEOUT = 20  # seconds a step of the conversation may take
STATUS_KEY = "notices.smtp_status"  # the last round's word, for the desk


def _words(exc):
    """The server's own words for a failure, as staff read them."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return f"{code} {_text(text)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _text(raw):
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _code(exc):
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return next(iter(exc.recipients.values()))[0]
    return getattr(exc, "smtp_code", 0)


def connect(conf, timeout=TIMEOUT):
    """An open, greeted (and logged in) connection to the configured server."""
    host, port, tls = conf["host"], int(conf["port"]), conf.get("tls", "starttls")
    if tls == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        smtp.ehlo()
        if tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if conf.get("user"):
            smtp.login(conf["user"], conf.get("password") or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def message(row, conf, to_name=None):
    msg = EmailMessage()
    msg["From"] = formataddr((conf.get("from_name") or "", conf["from_address"]))
    msg["To"] = formataddr((to_name or "", row.recipient))
    msg["Subject"] = row.subject
    msg["Date"] = formatdate(localtime=True)
    domain = conf["from_address"].rsplit("@", 1)[-1]
    msg["Message-ID"] = f"<notice.{hashlib.sha256(row.key.encode()).hexdigest()[:32]}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"  # no holiday replies to the library
    msg.set_content(row.body, charset="utf-8")
    return msg


def _hand_over(smtp, row, conf):
    """Send one row on an open connection: "sent", "failed", "queued" or "unsure"."""
    try:
        smtp.noop()  # the link is up before the message is handed over
    except (smtplib.SMTPException, OSError) as exc:
        outbox.later(row, _words(exc), counted=False)
        return "queued", False
    try:
        smtp.send_message(message(row, conf), from_addr=conf["from_address"],
                          to_addrs=[row.recipient])
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
            smtplib.SMTPDataError) as exc:  # the server answered: nothing went
        if _code(exc) >= 500:
            outbox.failed(row, _words(exc))
            return "failed", True
        outbox.later(row, _words(exc))
        return "queued", True
    except (smtplib.SMTPException, OSError) as exc:  # cut off mid-way: it may have gone
        outbox.unsure(row, _words(exc))
        return "unsure", False
    outbox.sent(row)
    return "sent", True


def send_queued(ctx, conf=None, limit=200, today=None):
    """Send what the queue holds and is due; {state: how many} of this round. A practice
    copy (core/training) sends nothing: its notices stay queued in the copy."""
    done = dict.fromkeys(("sent", "failed", "queued", "unsure", "dropped"), 0)
    if is_practice(ctx):
        return done
    conf = conf or mailconf.read()
    today = today or ctx.clock.today()
    outbox.settle_stale()
    smtp = None
    try:
        for _ in range(limit):
            row = outbox.claim()
            if row is None:
                break
            if not outbox.still_due(row, today):  # picked up or returned meanwhile
                outbox.dropped(row)
                done["dropped"] += 1
                continue
            if smtp is None:
                try:
                    smtp = connect(conf)
                except (smtplib.SMTPException, OSError) as exc:
                    outbox.later(row, _words(exc), counted=False)
                    done["queued"] += 1
                    _status(_words(exc))
                    return done
            state, usable = _hand_over(smtp, row, conf)
            done[state] += 1
            if not usable:
                break  # the link is gone: the rest waits for the next round
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    if any(done.values()):
        _status(None)
    return done


def _status(error):
    write(STATUS_KEY, {"at": time.time(), "error": error})


def run_round(ctx):
    """Queue the notices due and send them: the maintenance loop's step and
    `thuvien notices send`. Nothing when e-mail is off."""
    conf = mailconf.read()
    if not mailconf.ready(conf):
        return None
    queued = outbox.queue_due(ctx, library_name(ctx))
    done = send_queued(ctx, conf)
    outbox.forget()
    return {"new": queued, **done}
