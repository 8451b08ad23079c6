"""`thuvien patrons import FILE [--dry-run]`: a school's class list (XLSX or CSV) in, as
at the desk; the report on standard output (Vietnamese unless --lang en), a progress
bar on standard error, exit 1 when any row was refused (the good rows are imported).
`thuvien patrons cards --class 6A --out FILE.pdf` prints the cards of a class, and
`thuvien patrons new-year [--yes]` moves every class up a grade."""

import json
import sys
from pathlib import Path

from . import Failed, data_dir_arg, opened, progress, translator

N_ = str  # a msgid, translated by `tr` when printed


def register(sub):
    p = sub.add_parser("patrons", help="pupils in bulk: class lists, cards, the new school year")
    psub = p.add_subparsers(dest="patrons_command", metavar="ACTION", required=True)
    i = psub.add_parser("import", help="import a class list (XLSX or CSV)")
    data_dir_arg(i)
    i.add_argument("file")
    i.add_argument("--dry-run", action="store_true", help="check every row, import nothing")
    i.add_argument("--consent", action="store_true",
                   help="the parents of the pupils under the child age gave their consent")
    i.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                   help="which column (A, B, ... or its header) holds a field: name, family, "
                        "given, birth_date, school_class, guardian, phone, card")
    i.add_argument("--report", help="also write the report as JSON to this file")
    i.add_argument("--quiet", action="store_true", help="no progress bar")
    i.add_argument("--lang", default="vi", choices=("vi", "en"), help="language (vi)")
    i.set_defaults(func=cmd_import)
    c = psub.add_parser("cards", help="print patron cards (PDF)")
    data_dir_arg(c)
    c.add_argument("--class", dest="school_class", help="the cards of this class")
    c.add_argument("--card", action="append", default=[], help="this card (repeatable)")
    c.add_argument("--photo-box", action="store_true", help="leave a box for a photo")
    c.add_argument("--out", required=True, help="the PDF to write")
    c.set_defaults(func=cmd_cards)
    y = psub.add_parser("new-year", help="move every class up a grade (shows the plan)")
    data_dir_arg(y)
    y.add_argument("--last-grade", type=int, help="the grade that leaves (default: the "
                                                  "highest held)")
    y.add_argument("--yes", action="store_true", help="carry the plan out")
    y.add_argument("--lang", default="vi", choices=("vi", "en"), help="language (vi)")
    y.set_defaults(func=cmd_new_year)
    e = psub.add_parser("export", help="a patron's data (JSON, or PDF when FILE ends .pdf)")
    data_dir_arg(e)
    e.add_argument("card")
    e.add_argument("--out", required=True, help="the file to write (.json or .pdf)")
    e.add_argument("--lang", default="vi", choices=("vi", "en"), help="language (vi)")
    e.set_defaults(func=cmd_export)
    r = psub.add_parser("erase", help="erase a patron who asks (they owe nothing)")
    data_dir_arg(r)
    r.add_argument("card")
    r.add_argument("--lang", default="vi", choices=("vi", "en"), help="language (vi)")
    r.set_defaults(func=cmd_erase)


def _mapping(args, data):
    """The --map options as {field: column index}, over what the header row says."""
    from appliance.core.errors import Invalid
    from appliance.core.roster import columns, importing

    if not args.map:
        return None
    grid, header, found = importing.read(data, args.file)
    names = [columns.folded(h) for h in columns.headers(grid, header)]
    letters = [columns.column_letter(n) for n in range(len(names))]
    mapping = dict(found)
    for item in args.map:
        name, _, column = item.partition("=")
        if name not in columns.FIELDS:
            raise Invalid("bad_field", N_("Unknown field: %(value)s."), value=name)
        key = column.strip()
        if key.upper() in letters:
            mapping[name] = letters.index(key.upper())
        elif columns.folded(key) in names:
            mapping[name] = names.index(columns.folded(key))
        else:
            raise Invalid("bad_column", N_("No column %(value)s in the file."), value=key)
    return mapping


def cmd_import(args):
    from appliance.core.roster import importing

    tr = translator(args.lang)
    path = Path(args.file)
    if not path.is_file():
        print(tr(N_("No such file: %(file)s"), file=args.file), file=sys.stderr)
        return 1
    data = path.read_bytes()
    with opened(args, tr) as ctx:
        mapping = _mapping(args, data)
        report = importing.run(ctx, data, path.name, mapping=mapping, consent=args.consent,
                               dry_run=args.dry_run,
                               progress=None if args.quiet else progress.counter(every=50))
    if report.others:
        print(tr(N_("Only the first sheet was read. The workbook has other sheets with rows "
                    "(%(others)s): import each on its own."), others=", ".join(report.others)),
              file=sys.stderr)
    _print_report(report, tr)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as out:
            json.dump(report.as_dict(), out, ensure_ascii=False, indent=1)
    return 1 if report.refused else 0


def _print_report(report, tr):
    for row in report.refused:
        reasons = "; ".join(tr(m, **p) for _c, m, p in row.problems)
        print(tr(N_("row %(line)s: refused: %(reasons)s"), line=row.line, reasons=reasons))
    for row in report.imported:
        print(tr(N_("row %(line)s: %(card)s %(name)s %(class)s"), line=row.line, card=row.card,
                 name=row.fields.get("name", ""), **{"class": row.fields.get("school_class")
                                                     or ""}))
    words = (N_("%(imported)s pupils would be imported, %(refused)s rows refused (nothing "
                "was changed).") if report.dry_run else
             N_("%(imported)s pupils imported, %(refused)s rows refused."))
    print(tr(words, imported=len(report.imported), refused=len(report.refused)))


def cmd_cards(args):
    from appliance import patron_cards

    with opened(args) as ctx:
        pupils = patron_cards.chosen(ctx, args.school_class, args.card)
        if not pupils:
            raise Failed("no such cards")
        with open(args.out, "wb") as out:
            patron_cards.write_pdf(ctx, pupils, out, photo_box=args.photo_box)
    print(f"{len(pupils)} cards written to {args.out}")
    return 0


def cmd_new_year(args):
    from appliance.core.roster import schoolyear

    tr = translator(args.lang)
    with opened(args, tr) as ctx:
        plan = schoolyear.plan(ctx, last_grade=args.last_grade)
        for move in plan.moves:
            if move.to is None:
                print(tr(N_("%(class)s (%(count)s pupils) leaves: cards end on %(day)s"),
                         count=len(move.pupils), day=plan.left_on,
                         **{"class": move.school_class}))
            else:
                print(tr(N_("%(class)s → %(to)s (%(count)s pupils), cards to %(day)s"),
                         to=move.to, count=len(move.pupils), day=plan.expiry,
                         **{"class": move.school_class}))
        if plan.begun:
            print(tr(N_("A new school year was already begun here on %(day)s: doing it "
                        "again moves every class up a second grade."), day=plan.begun))
        for name in plan.unknown:
            print(tr(N_("%(class)s has no grade in its name: left as it is"),
                     **{"class": name}))
        if args.yes:
            schoolyear.begin(ctx, plan.token, last_grade=args.last_grade)
            print(tr(N_("Done: %(count)s pupils."), count=plan.count))
        else:
            print(tr(N_("Nothing changed: run again with --yes to do it.")))
    return 0


def cmd_export(args):
    """The patron's data, as the OPAC's download gives it; logged as a staff look."""
    from appliance.core import audit, patrons
    from appliance.core.rights import export

    tr = translator(args.lang)
    with opened(args, tr) as ctx:
        patron = patrons.find(ctx, args.card)
        data = export.collect(patron)
        audit.log(ctx, "cli", "patron.export", patron.id)
        if args.out.lower().endswith(".pdf"):
            Path(args.out).write_bytes(export.to_pdf(data, tr))
        else:
            Path(args.out).write_text(json.dumps(data, ensure_ascii=False, indent=2),
                                      encoding="utf-8")
    print(args.out)
    return 0


def cmd_erase(args):
    from appliance.core.rights import commands

    tr = translator(args.lang)
    with opened(args, tr) as ctx:
        patron = commands.erase(ctx, args.card)
    print(tr(commands.ERASED, card=patron.card))
    return 0
