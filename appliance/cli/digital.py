"""`thuvien digital`: attach scans or a PDF to a record, work the queue of derivatives
and OCR, and say how far it is."""

import json

from ..core.digital import access, documents, jobs, pages
from . import data_dir_arg, opened, progress

STEPS = {"read": "reading", "store": "keeping masters", "work": "images and OCR"}


def register(sub):
    p = sub.add_parser("digital", help="the digital library: scans and PDFs of records")
    dsub = p.add_subparsers(dest="digital_command", metavar="ACTION", required=True)

    q = dsub.add_parser("import", help="attach a scan, a PDF or a folder of scans to a record")
    data_dir_arg(q)
    q.add_argument("--bib", required=True, help="the catalogue record's id")
    q.add_argument("path", metavar="FILE_OR_FOLDER",
                   help="JPEG, PNG, TIFF (multi-page too) or PDF; a folder: its files in "
                        "name order")
    q.add_argument("--access", default="public", choices=access.LEVELS)
    q.add_argument("--collection", help="the digital collection (an OAI-PMH set)")
    q.add_argument("--title", help="the document's title (default: the record's)")
    q.add_argument("--no-download", action="store_true", help="view only, no download")
    q.add_argument("--wait", action="store_true",
                   help="make the images and OCR now instead of leaving them to the server")
    q.set_defaults(func=cmd_import)

    w = dsub.add_parser("work", help="make the queued images and OCR now")
    data_dir_arg(w)
    w.set_defaults(func=cmd_work)

    s = dsub.add_parser("status", help="documents held and work queued, as JSON")
    data_dir_arg(s)
    s.set_defaults(func=cmd_status)


def cmd_import(args):
    with opened(args) as ctx:
        files = pages.files_in(args.path)
        doc_id = documents.attach(ctx, args.bib, files, access=args.access,
                                  collection=args.collection, title=args.title,
                                  downloadable=not args.no_download,
                                  progress=progress.stages(STEPS))
        doc = documents.get(doc_id)
        print(f"document {doc_id}: {doc.page_count} pages attached to record {args.bib} "
              f"({args.access})")
        if args.wait:
            _work(ctx)
        else:
            print("images and OCR are made in the background by `thuvien serve` "
                  "(or now: thuvien digital work)")


def _work(ctx):
    done, failed = jobs.run_pending(ctx, progress=progress.counter(label=STEPS["work"]))
    print(f"{done} jobs done, {failed} failed")
    return 1 if failed else 0


def cmd_work(args):
    with opened(args) as ctx:
        jobs.recover()
        return _work(ctx)


def cmd_status(args):
    from ..core.models import DigitalDocument, DigitalJob

    with opened(args):
        by_state: dict = {}
        for job in DigitalJob.select():
            by_state[job.state] = by_state.get(job.state, 0) + 1
        print(json.dumps({"documents": DigitalDocument.select().where(
            ~DigitalDocument.deleted).count(), "jobs": by_state}, indent=2))
