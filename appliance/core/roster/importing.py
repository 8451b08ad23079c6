"""A class list in: read, mapped, checked, and its good rows registered as one batch of
patron.saved events in one transaction, through the one projector (the same events a
patron registered at the desk makes). Rows are checked again under the write lock, so
a pupil registered at another desk between the preview and the import is refused, not
registered twice. Cards without a number from the file are numbered from the library's
sequence (barcodes.next_cards)."""

from dataclasses import dataclass, field

from .. import events, records
from ..errors import Invalid
from ..ids import new_id
from ..models import Patron
from . import columns, rows, sheet

# The fields a class list gives a patron (rows.py fills them).
PATRON_FIELDS = ("card", "name", "category", "expiry", "birth_year", "birth_date",
                 "school_class", "guardian", "guardian_consent", "phone", "guardian_email")


@dataclass
class Report:
    rows: list  # rows.Row, each with its card once imported
    dry_run: bool = False
    filename: str = ""
    batch: list = field(default_factory=list)  # the ids of the events recorded
    others: list = field(default_factory=list)  # sheets of the workbook not read

    @property
    def imported(self):
        return [r for r in self.rows if r.ok]

    @property
    def refused(self):
        return [r for r in self.rows if not r.ok]

    def as_dict(self):
        return {"file": self.filename, "dry_run": self.dry_run,
                "imported": [{"line": r.line, "card": r.card, "name": r.fields.get("name"),
                              "class": r.fields.get("school_class")} for r in self.imported],
                "refused": [{"line": r.line, "problems": [
                    {"code": c, "message": m % p if p else m} for c, m, p in r.problems]}
                    for r in self.refused]}


def read(data, filename="", mapping=None):
    """(sheet, header row, mapping) of a file: the mapping given (field -> column index),
    or the one its header row says."""
    grid = sheet.read(data, filename)
    header_row, found = columns.find_header(grid.rows)
    if mapping is None:
        mapping = found
    width = max((len(r) for r in grid.rows), default=0)
    mapping = {f: c for f, c in mapping.items() if f in columns.FIELDS and 0 <= c < width}
    return grid, header_row, mapping


def preview(ctx, data, filename="", mapping=None, consent=False, header_row=None):
    grid, found_header, mapping = read(data, filename, mapping)
    header = found_header if header_row is None else header_row
    missing = columns.problems(mapping)
    checked = [] if missing else rows.check(grid, header, mapping, ctx.library,
                                            ctx.clock.today(), consent)
    return rows.Preview(checked, mapping, header, columns.headers(grid, header), missing,
                        grid.name, grid.encoding, grid.others)


def run(ctx, data, filename="", mapping=None, consent=False, dry_run=False, progress=None):
    """Import the good rows of a class list (all or nothing for them), or with `dry_run`
    only say what would be. Refuses a file with nothing to import."""
    grid, header, mapping = read(data, filename, mapping)
    missing = columns.problems(mapping)
    if missing:
        raise Invalid(missing[0][0], missing[0][1])
    with events.writing(ctx):
        checked = rows.check(grid, header, mapping, ctx.library, ctx.clock.today(), consent)
        report = Report(checked, dry_run, filename, others=grid.others)
        good = report.imported
        numbers = iter(_numbers(ctx, good))
        for done, row in enumerate(good, 1):
            row.card = row.fields.get("card") or next(numbers)
            if not dry_run:
                report.batch.append(_register(ctx, row))
            if progress:
                progress(done, len(good))
    return report


def _numbers(ctx, good):
    from ..barcodes import next_cards

    wanted = sum(1 for r in good if not r.fields.get("card"))
    return next_cards(ctx, wanted) if wanted else []


def _register(ctx, row):
    fields = {k: row.fields[k] for k in PATRON_FIELDS if row.fields.get(k) not in (None, "")}
    fields.update(card=row.card, library=ctx.library, blocked=False,
                  guardian_consent=bool(row.fields.get("guardian_consent")))
    patron_id = new_id()
    records.save(ctx, "patron.saved", Patron, "id", patron_id, fields, library=ctx.library)
    return patron_id

