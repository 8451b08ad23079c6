"""`thuvien notices {due,send,slips,queue}`: the notices due, sending the e-mail queue
now (the service does it every quarter of an hour), printed slips, the queue's state."""

import json
import sys
from datetime import datetime

from . import Failed, data_dir_arg, opened


def register(sub):
    p = sub.add_parser("notices", help="hold-ready and overdue notices: e-mail and slips")
    nsub = p.add_subparsers(dest="notices_command", metavar="ACTION", required=True)
    d = nsub.add_parser("due", help="the notices due now, one JSON line each")
    data_dir_arg(d)
    d.set_defaults(func=cmd_due)
    s = nsub.add_parser("send", help="queue the notices due and send the e-mail queue now")
    data_dir_arg(s)
    s.set_defaults(func=cmd_send)
    q = nsub.add_parser("queue", help="the e-mail queue: state, attempts, the server's words")
    data_dir_arg(q)
    q.add_argument("--release", metavar="KEY", help="send a failed or unsure notice again")
    q.set_defaults(func=cmd_queue)
    sl = nsub.add_parser("slips", help="printed slips as PDF (all, a class, or cards)")
    data_dir_arg(sl)
    sl.add_argument("--class", dest="school_class", help="only this class, a page each")
    sl.add_argument("--card", action="append", default=[], help="only this card (repeat)")
    sl.add_argument("--out", required=True, help="the PDF to write")
    sl.set_defaults(func=cmd_slips)


def cmd_due(args):
    from ..core.notices import due, routing

    with opened(args) as ctx:
        today = ctx.clock.today()
        for n in due.now_due(ctx):
            route = routing.route(n.patron, today) if n.patron.library == ctx.library else None
            print(json.dumps({"kind": n.kind, "card": n.patron.card, "name": n.patron.name,
                              "class": n.patron.school_class, "title": n.title,
                              "barcode": n.barcode, "date": n.date,
                              "email": bool(route and route.address),
                              "to": route.why if route else "other_library"},
                             ensure_ascii=False))


def cmd_send(args):
    from .. import mail

    with opened(args) as ctx:
        done = mail.run_round(ctx)
    if done is None:
        raise Failed("e-mail notices are off: set the mail server at the desk "
                     "(Notices > Settings)")
    print(json.dumps(done))
    return 0


def cmd_queue(args):
    from ..core.notices import outbox

    with opened(args):
        if args.release:
            if not outbox.release(args.release):
                raise Failed("no failed or unsure notice has that key")
            return 0
        for row in outbox.recent(1000):
            print(json.dumps({"key": row.key, "state": row.state, "to": row.recipient,
                              "subject": row.subject, "attempts": row.attempts,
                              "queued": datetime.fromtimestamp(row.queued_at).isoformat(
                                  timespec="seconds"), "error": row.error},
                             ensure_ascii=False))
    return 0


def cmd_slips(args):
    from .. import notice_slips

    with opened(args) as ctx:
        notices = notice_slips.chosen(ctx, args.school_class, args.card)
        with open(args.out, "wb") as fh:
            notice_slips.write_pdf(ctx, notices, fh, by_class=not args.card)
        patrons = len({n.patron.id for n in notices})
    print(f"{patrons} slips, {len(notices)} notices: {args.out}", file=sys.stderr)
    return 0
