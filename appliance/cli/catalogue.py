"""`thuvien import` and `thuvien export`: the catalogue in MARC21, MARCXML or CSV."""

import json
import os
import sys

from . import Failed, data_dir_arg, opened, progress


def register(sub):
    p = sub.add_parser("import", help="import records (MARC21 ISO 2709, MARCXML or CSV)")
    data_dir_arg(p)
    p.add_argument("format", choices=("marc", "marcxml", "csv"))
    p.add_argument("file")
    p.add_argument("--report", help="also write the report as JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="export the catalogue with holdings (MARC21 or MARCXML)")
    data_dir_arg(p)
    p.add_argument("format", choices=("marc", "marcxml"))
    p.add_argument("file")
    p.add_argument("--library", help="holdings of this library only")
    p.set_defaults(func=cmd_export)


def _progress_bar(total_bytes, fh):
    """A text progress bar driven by how far the reader is into the file."""
    def tell():
        # a reader that has read all it needs may have closed the file: it is all read
        return total_bytes if fh.closed else fh.tell()

    def show(position, report):
        if position % 50 and tell() < total_bytes:
            return
        done = min(tell() / total_bytes, 1) if total_bytes else 1
        progress.draw(done, f"{report.created} new, {report.merged} merged, "
                            f"{len(report.skipped)} skipped")
    return show


def cmd_import(args):
    from ..core import importer

    if not os.path.isfile(args.file):
        raise Failed(f"no such file: {args.file}")
    with opened(args) as ctx:
        try:
            with open(args.file, "rb") as fh:
                shown = None if args.quiet else _progress_bar(os.path.getsize(args.file), fh)
                report = importer.import_stream(ctx, args.format, fh, progress=shown)
        except OSError as exc:
            raise Failed(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    if not args.quiet:
        sys.stderr.write("\n")
    for position, note in report.notes:
        print(f"record {position}: {note}")
    for position, reason in report.skipped:
        # position 0 is the file as a whole (a CSV without a title column)
        print(f"{f'record {position}' if position else 'file'}: skipped: {reason}")
    print(f"{report.created} records created, {report.merged} merged, {report.copies} copies "
          f"added, {len(report.skipped)} skipped")
    if args.report:
        with open(args.report, "w", encoding="utf-8") as out:
            json.dump(report.as_dict(), out, ensure_ascii=False, indent=1)
    return 0 if not report.skipped else 3


def cmd_export(args):
    from ..core import exporter

    tmp = args.file + ".part"
    with opened(args):
        try:
            with open(tmp, "wb") as fh:
                exporter.WRITERS[args.format](fh, exporter.catalogue_records(args.library))
            os.replace(tmp, args.file)  # a reader never sees half a file
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    print(f"exported to {args.file}")
    return 0
