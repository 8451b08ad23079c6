"""Core subcommands: init, user, serve, demo, verify, rebuild, backup, restore."""

import csv
import getpass
import secrets
import sys
from pathlib import Path

import peewee as pw

from ..core import backup, catalogue, datadir, patrons, users, verify
from ..core.context import DB_FILE, Context
from ..core.db import probe, server_unreachable
from ..core.digital import store
from . import data_dir_arg, opened, progress, require_data

DEMO_CSV = Path(__file__).resolve().parent.parent / "demo" / "vn-catalogue.csv"


def register(sub):
    p = sub.add_parser("init", help="make a new data folder")
    data_dir_arg(p)
    p.add_argument("--library", required=True, help="library code, e.g. PY-DH01")
    p.add_argument("--name", required=True, help="library name")
    p.add_argument("--role", choices=("branch", "hub"), default="branch")
    p.add_argument("--database", help="postgresql:// URL (hub); SQLite in the folder if absent")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("user", help="staff and kiosk accounts")
    usub = p.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    a = usub.add_parser("add", help="add an account")
    data_dir_arg(a)
    a.add_argument("username")
    a.add_argument("--role", required=True, choices=[r for r in users.ROLES if r != "patron"])
    a.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    a.set_defaults(func=cmd_user_add)
    for action, text in (("disable", "disable an account and end its sessions and tokens"),
                         ("enable", "enable a disabled account"),
                         ("delete", "delete an account and end its sessions and tokens")):
        a = usub.add_parser(action, help=text)
        data_dir_arg(a)
        a.add_argument("username")
        a.set_defaults(func=cmd_user_state, action=action)

    p = sub.add_parser("serve", help="serve the web pages, API and SIP2")
    data_dir_arg(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--sip2-port", type=int, default=6001, help="0 turns SIP2 off")
    p.add_argument("--https-port", type=int, default=8443,
                   help="HTTPS with this device's certificate, if it has one (0: off)")
    p.add_argument("--sip2-tls-port", type=int, default=None,
                   help="SIP2 over TLS (default: the SIP2 port + 1; 0: off)")
    p.add_argument("--threads", type=int, default=8)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="a demo library with Vietnamese sample data, served")
    p.add_argument("--data", default="demo-data", help="demo data folder (default: demo-data)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--sip2-port", type=int, default=6001)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--no-serve", action="store_true", help="seed only")
    p.set_defaults(func=cmd_demo)

    for name, func, text in (("verify", cmd_verify, "check integrity, chains and state"),
                             ("rebuild", cmd_rebuild, "rebuild state from the event log")):
        p = sub.add_parser(name, help=text)
        data_dir_arg(p)
        p.set_defaults(func=func)

    p = sub.add_parser("backup", help="online backup of the database")
    data_dir_arg(p)
    p.add_argument("--to", required=True, help="backup file, or a folder for rotated backups")
    p.add_argument("--keep", type=int, default=7, help="backups kept in a folder")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="restore the database from a backup (service stopped)")
    data_dir_arg(p)
    p.add_argument("--from", dest="source", required=True)
    p.set_defaults(func=cmd_restore)


def cmd_init(args):
    if args.database:  # before the folder is written: a failed init leaves nothing behind
        probe(args.database)
    ctx = datadir.init(require_data(args), args.library, args.name, args.role, args.database)
    print(f"initialised {args.library} ({args.role}) in {args.data}; device {ctx.origin}")
    if args.role == "hub":  # the town's certificate authority and the hub's own certificate
        from sync import pki

        pki.ensure_hub_cert(ctx.data_dir, ctx.origin, ctx.settings)
        _, ca = pki.load_or_create_ca(ctx.data_dir, ctx.origin)
        print(f"town CA made in {pki.path(ctx.data_dir, pki.CA_CERT)} "
              f"(fingerprint {pki.fingerprint(ca)})")


def cmd_user_add(args):
    with opened(args) as ctx:
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("password: ")
        users.create(ctx, args.username, password, args.role)
    print(f"user {args.username} ({args.role}) added")


def cmd_user_state(args):
    with opened(args) as ctx:
        if args.action == "delete":
            users.delete(ctx, args.username)
        else:
            users.set_active(ctx, args.username, args.action == "enable")
    print(f"user {args.username}: {args.action}d")


def _tls_files(ctx):
    """(certificate, key) this device serves TLS with, if it holds them; a hub (re)issues
    its own from the town CA first."""
    from sync import pki

    if ctx.role == "hub":
        pki.ensure_hub_cert(ctx.data_dir, ctx.origin, ctx.settings)
    return pki.server_files(ctx.data_dir)


def serve(ctx, host, port, sip2_port, threads=8, banner=None, https_port=0, sip2_tls_port=0):
    """waitress for plain HTTP, cheroot for HTTPS (appliance/web/https.py), threads for
    SIP2 and SIP2 over TLS; tells systemd when ready."""
    import waitress

    from ..malloc import give_memory_back
    from ..sip2.server import serve_in_thread
    from ..web import create_app, https

    give_memory_back()  # before the server's threads: each would take an arena of its own
    tls = _tls_files(ctx) if (https_port or sip2_tls_port) else None
    app = create_app(ctx)
    closers, contexts, notes = [], [], []
    if tls and https_port:
        secure = https.HttpsServer(app, host, https_port, *tls, threads=threads)
        app.config["THUVIEN_HTTPS_PORT"] = secure.port  # HTTP from the LAN goes there
        closers.append(secure.stop)
        contexts.append(secure.context)
        notes.append(f"https://{host}:{secure.port}/")
    if sip2_port:
        sip2 = serve_in_thread(ctx, host, sip2_port)
        closers.append(sip2.shutdown)
        notes.append(f"SIP2 on {host}:{sip2.port}")
    if tls and sip2_tls_port:
        contexts.append(https.server_context(*tls))
        sip2s = serve_in_thread(ctx, host, sip2_tls_port, ssl_context=contexts[-1])
        closers.append(sip2s.shutdown)
        notes.append(f"SIP2 over TLS on {host}:{sip2s.port}")
    if contexts:
        renew = (lambda: _tls_files(ctx)) if ctx.role == "hub" else None
        closers.append(https.CertReloader(*tls, contexts, renew=renew).start().stop)
    server = waitress.create_server(app, host=host, port=port, threads=threads,
                                    ident="thuvien", clear_untrusted_proxy_headers=True)
    print(banner or f"thuvien {ctx.library} serving on http://{host}:{server.effective_port}/"
          + "".join(f" and {n}" for n in notes), flush=True)
    from provisioning import sdnotify

    from ..maintenance import Maintenance, run_once
    run_once(ctx)
    ctx.db.close()  # this thread only waits for the server now: its connection is lent on
    housekeeping = Maintenance(ctx)
    housekeeping.start()
    from ..core.digital.jobs import Worker
    from ..web.training import copies
    # derivatives and OCR, never in a request; the practice copies' too
    digital_worker = Worker(ctx, copies=copies(app))
    app.extensions["digital_worker"] = digital_worker  # an upload wakes it (web/digital.py)
    digital_worker.start()
    closers.append(digital_worker.stop)
    sdnotify.ready()
    watchdog = sdnotify.start_watchdog(lambda: healthy(ctx))
    try:
        server.run()
    finally:
        housekeeping.stop()
        watchdog.stop() if watchdog else None
        for close in reversed(closers):
            close()


def healthy(ctx):
    """The watchdog's check. A PostgreSQL server that is away is not this process's fault:
    it answers 503 meanwhile and reconnects by itself, and a restart would not help."""
    try:
        return ctx.db.execute_sql("SELECT 1") is not None
    except (pw.OperationalError, pw.InterfaceError) as e:
        return server_unreachable(e)
    finally:  # the watchdog's thread lives as long as the server: it keeps no connection
        ctx.db.close()


def cmd_serve(args):
    sip2_tls = args.sip2_tls_port if args.sip2_tls_port is not None else (
        args.sip2_port + 1 if args.sip2_port else 0)
    with opened(args) as ctx:
        serve(ctx, args.host, args.port, args.sip2_port, args.threads,
              https_port=args.https_port, sip2_tls_port=sip2_tls)


def seed_demo(ctx, csv_path=DEMO_CSV):
    """A small library: the sample catalogue with copies, some patrons, a few loans."""
    from ..core import circulation

    with open(csv_path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    barcode = 100000
    for n, row in enumerate(rows):
        bib = catalogue.save_bib(ctx, {
            "title": row["title"], "authors": row["authors"], "publisher": row["publisher"],
            "year": row["year"], "isbn": row["isbn"], "language": row["language"],
            "ddc": row["ddc"], "subjects": row["subjects"], "series": row["series"],
            "local_history": row.get("local_history") == "yes"})
        for _ in range(1 + n % 3):
            barcode += 1
            catalogue.save_item(ctx, {"bib": bib.id, "barcode": str(barcode),
                                      "call_number": row["ddc"], "location": "Kho mở"})
    people = [("TV0001", "Nguyễn Văn An", "adult", None), ("TV0002", "Trần Thị Bình", "adult", None),
              ("TV0003", "Lê Minh Châu", "pupil", None), ("TV0004", "Phạm Gia Huy", "child",
                                                          "Phạm Văn Đức"),
              ("TV0005", "Hoàng Thị Lan", "staff", None), ("TV0006", "Võ Thành Đạt", "pupil", None)]
    for card, name, category, guardian in people:
        patrons.save(ctx, {"card": card, "name": name, "category": category,
                           "guardian": guardian, "guardian_consent": bool(guardian),
                           "expiry": "2027-12-31", "pin": "1234"})
    circulation.checkout(ctx, "TV0001", "100001")
    circulation.checkout(ctx, "TV0003", "100004")
    return len(rows)


def cmd_demo(args):
    data = Path(args.data)
    accounts = data / "demo-accounts.txt"
    if not (data / "settings.json").exists():
        ctx = datadir.init(data, "PY-DH01", "Thư viện phường Hòa Hiệp Trung")
        print("seeding the demo library…", flush=True)
        count = seed_demo(ctx)
        lines = []
        for username, role in (("thuthu", "librarian"), ("quanly", "branch_admin"),
                               ("kiosk", "kiosk")):
            password = secrets.token_urlsafe(9)
            users.create(ctx, username, password, role)
            lines.append(f"{username:8} {role:13} {password}")
        accounts.write_text("\n".join(lines) + "\n", encoding="utf-8")
        accounts.chmod(0o600)
        print(f"{count} records", flush=True)
    else:
        ctx = Context.open(data)
    url = f"http://{args.host}:{args.port}"
    print(demo_guide(ctx, url, accounts.read_text(encoding="utf-8")), flush=True)
    if not args.no_serve:
        serve(ctx, args.host, args.port, args.sip2_port, args.threads,
              banner=f"serving: open {url}/desk/ and log in as thuthu (Ctrl+C stops)")


def demo_guide(ctx, url, accounts):
    """Where to go, who to log in as, and what to scan: the demo's first minute."""
    from ..core.models import Item, Loan

    shelf = [i.barcode for i in Item.select(Item.barcode).where(Item.status == "available")
             .order_by(Item.barcode).limit(4)]
    lent = [(ln.item.barcode, ln.patron.card) for ln in
            Loan.select().where(Loan.returned_at.is_null()).order_by(Loan.out_at).limit(2)]
    rows = {"thuthu": "/desk/", "quanly": "/desk/", "kiosk": "/kiosk/"}
    lines = ["demo accounts (user, role, password, where to log in):"]
    for line in accounts.splitlines():
        if line.strip():
            lines.append(f"  {line}  {url}{rows.get(line.split()[0], '/')}")
    lines += [f"desk: {url}/desk/   catalogue: {url}/opac/   kiosk: {url}/kiosk/",
              "patron cards TV0001–TV0006, PIN 1234",
              "copies on the shelf to lend: " + ", ".join(shelf)]
    if lent:
        lines.append("copies on loan to return: "
                     + ", ".join(f"{code} ({card})" for code, card in lent))
    lines.append("start afresh: stop the server, delete the data folder "
                 f"({ctx.data_dir}) and run the demo again")
    return "\n".join(lines)


def cmd_verify(args):
    with opened(args) as ctx:
        faults = verify.verify(ctx)
    for fault in faults:
        print(f"FAULT {fault}")
    if faults:
        return 1
    print("ok: integrity, event chains and state all check out")


def cmd_rebuild(args):
    with opened(args) as ctx:
        verify.rebuild(ctx)
    print("state rebuilt from the event log")


def cmd_backup(args):
    target = Path(args.to)
    with opened(args) as ctx:
        if target.is_dir():
            dest = backup.nightly(ctx.data_dir / DB_FILE, target, args.keep)
            masters = store.backup_to(ctx.data_dir, store.masters_beside(target))
        else:
            dest = backup.backup(ctx.data_dir / DB_FILE, target,
                                 progress=progress.counter("pages"))
            print(file=sys.stderr)
            masters = store.backup_to(ctx.data_dir, Path(str(target) + ".masters"))
    print(f"backup written and checked: {dest}")
    if masters:
        print(f"digital masters kept beside it: {masters} files")


def cmd_restore(args):
    data = Path(require_data(args))
    backup.restore(args.source, data / DB_FILE)
    store.restore_from(args.source, data)
    with opened(args) as ctx:
        faults = verify.verify(ctx)
    if faults:
        for fault in faults:
            print(f"FAULT {fault}")
        return 1
    print(f"restored from {args.source}; verify ok")
