"""What the reports read on a library after a year (60,000 loans): the monthly page at a
branch and the semi-annual report at the hub (tests/query_plans.py; the plans are
SQLite's, the figures are checked on both databases a hub may use).

The reports are heavy by nature: each counts what a library holds and did. The full
reads they are expected to make are stated here; any other is a failure."""

from collections import Counter
from datetime import date

import pytest

from appliance.core import dialect
from appliance.core.context import Context
from appliance.core.models import Bib, Item, Loan, Patron
from appliance.core.reports import period
from appliance.core.reports import town as townmod
from tests.conftest import staff_login
from tests.query_plans import bad_steps, statements_of
from tests.sync.syncsupport import connected_hub_database

from .conftest import REGISTER, UNITS

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
TOWN = ("PY-TT01", "PY-HH02", "PY-TH03", "PY-BP04")
LOANS = 60_000
# The pass over the loans (the period's loans, returns and overdue loans are spread over
# the whole table: it is read once, in its own order, not by an index and each loan's
# row at random), and the monthly series of loans.
LOANS_READ = "SCAN loan"
# Counted over all of a library's rows: every card (registered, issued, renewed), every
# copy (the collection, acquisitions, copies lost), every fee, every loan by post.
WHOLE_LIBRARY = {
    f"SEARCH {table} USING INDEX {index} (library=?)"
    for table, index in (("patron", "patron_library_card"), ("item", "item_library_barcode"),
                         ("fee", "fee_library"), ("remote_request", "remote_request_library_state"),
                         ("digital_document", "digital_document_library"))}


def _steps(ctx, work):
    """The steps the check reports of `work`, with the statement of each."""
    return bad_steps(ctx, statements_of(ctx, work))


def _unexpected(bad):
    return "\n".join(f"{step}  in  {sql}" for step, sql in bad
                     if step != LOANS_READ and step not in WHOLE_LIBRARY)


def _a_year(libraries, patrons, items):
    """LOANS loans over 2025 (rows only: the plans and the counts are read), each returned
    the day it was made, spread over `libraries` with their patrons and copies."""
    rows = [dict(id=f"l{n:06d}", item=items[n % len(items)], patron=patrons[n % len(patrons)],
                 library=libraries[n % len(libraries)],
                 out_at=f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T09:00:00+07:00",
                 due_date=f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}",
                 returned_at=f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T17:00:00+07:00")
            for n in range(LOANS)]
    for start in range(0, LOANS, 5000):
        Loan.insert_many(rows[start:start + 5000]).execute()


def _town_of_copies():
    Patron.insert_many([dict(id=f"p{n}", library=TOWN[n % 4], card=f"C{n}", name="Bạn đọc",
                             category="adult", created_at="2025-01-01", field_hlc="{}")
                        for n in range(400)]).execute()
    Bib.insert(id="b1", title="Truyện Kiều", language="vie", created_at="2020-01-01",
               field_hlc="{}").execute()
    Item.insert_many([dict(id=f"i{n}", bib="b1", library=TOWN[n % 4], barcode=f"A{n}",
                           item_type="book", accession_date="2024-05-01", field_hlc="{}")
                      for n in range(400)]).execute()
    _a_year(TOWN, [f"p{n}" for n in range(400)], [f"i{n}" for n in range(400)])


@pytest.fixture(params=BACKENDS)
def hub(request, tmp_path):
    with connected_hub_database(request.param, tmp_path) as db:
        yield Context.for_db(db, "PY-TT01", origin="hub-device", role="hub")


def test_the_semiannual_report_reads_the_loans_once_in_order(hub):
    townmod.import_csv(UNITS, "units")
    townmod.import_csv(REGISTER, "libraries")
    _town_of_copies()
    reports = []

    def report():
        reports.append(townmod.semiannual(period.half(2025, 1), {}, date(2025, 12, 1)))

    if dialect.is_postgres(hub.db):
        report()  # (the plans are SQLite's)
    else:
        bad = _steps(hub, report)
        assert LOANS_READ in {step for step, _ in bad}
        assert not _unexpected(bad), _unexpected(bad)
    loans = {row["code"]: row["figures"]["loans"] for row in reports[0]["libraries"]}
    made_in_h1 = Counter(TOWN[n % 4] for n in range(LOANS) if n % 12 < 6)
    assert loans == made_in_h1 and sum(loans.values()) == LOANS // 2


def test_the_monthly_page_reads_the_loans_once_in_order(ctx, client):
    _a_year([ctx.library], [p.id for p in Patron.select()], [i.id for i in Item.select()])
    staff_login(client, "baocao", landing="/reports/")
    pages = []

    def page():
        r = client.get("/reports/", query_string={"kind": "month", "year": 2025, "number": 3})
        pages.append(r.get_data(as_text=True))

    bad = _steps(ctx, page)
    assert LOANS_READ in {step for step, _ in bad}
    assert not _unexpected(bad), _unexpected(bad)
    assert 'data-key="loans"><td>Lượt mượn</td><td class="num">5000</td>' in pages[0], \
        "March: a twelfth of the year's loans"
