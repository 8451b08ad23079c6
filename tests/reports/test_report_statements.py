"""What the report's statements count once across the town, and the index the renewals
are counted from, on both databases a hub may use."""

from datetime import date

import pytest

from appliance.core import dialect
from appliance.core.models import Bib, Item, Loan, Patron, Visit
from appliance.core.reports import figures, period
from tests.factories import migrated_from
from tests.sync.syncsupport import connected_hub_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
A, B, C = "PY-A", "PY-B", "PY-C"


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    with connected_hub_database(request.param, tmp_path) as made:
        yield made


def _rows(model, columns, *rows):
    model.insert_many([dict(zip(columns, row, strict=True)) for row in rows]).execute()


def _town():
    """One patron of A who borrowed at A and B and visited C; a record held at A and B."""
    _rows(Patron, ("id", "library", "card", "name", "category", "birth_year", "created_at",
                     "field_hlc"),
          ("pa", A, "C1", "An", "adult", 1990, "2024-01-01T08:00:00+07:00", "{}"),
          ("pb", B, "C2", "Bình", "child", 2015, "2024-01-01T08:00:00+07:00", "{}"))
    _rows(Bib, ("id", "title", "language", "created_at", "field_hlc"),
          ("b1", "Truyện Kiều", "vie", "2020-01-01", "{}"),
          ("b2", "Đất rừng phương Nam", "vie", "2020-01-01", "{}"))
    _rows(Item, ("id", "bib", "library", "barcode", "item_type", "accession_date",
                   "field_hlc"),
          ("ia1", "b1", A, "A1", "book", "2024-05-01", "{}"),
          ("ia2", "b1", A, "A2", "book", "2024-05-01", "{}"),
          ("ib1", "b1", B, "B1", "book", "2024-05-01", "{}"),
          ("ib2", "b2", B, "B2", "periodical", "2025-02-01", "{}"))
    loan = ("id", "item", "patron", "library", "out_at", "due_date", "returned_at")
    _rows(Loan, loan,
          ("l1", "ia1", "pa", A, "2025-02-03T09:00:00+07:00", "2025-02-17",
           "2025-02-10T09:00:00+07:00"),
          ("l2", "ia2", "pa", A, "2025-03-03T09:00:00+07:00", "2025-03-17", None),
          ("l3", "ib1", "pa", B, "2025-04-03T09:00:00+07:00", "2025-04-17",
           "2025-04-05T09:00:00+07:00"),
          ("l4", "ib2", "pb", B, "2025-08-03T09:00:00+07:00", "2025-08-17", None))
    _rows(Visit, ("id", "library", "day", "patron"),
          (f"{C}|2025-05-05|pa", C, "2025-05-05", "pa"),
          (f"{B}|2025-05-06|pb", B, "2025-05-06", "pb"))


def test_the_town_counts_a_patron_and_a_record_once_wherever_found(db):
    _town()
    half = period.half(2025, 1)
    per, whole = figures.libraries_and_town(half, [A, B, C], date(2025, 12, 31))
    assert [per[c]["patrons_active"]["total"] for c in (A, B, C)] == [1, 2, 1]
    assert whole["patrons_active"] == {"total": 2, "children": 1,
                                       "by_category": {"adult": 1, "child": 1}}
    assert [per[c]["collection"]["titles"] for c in (A, B, C)] == [1, 2, 0]
    assert whole["collection"]["titles"] == 2 and whole["collection"]["copies"] == 4
    assert whole["collection"]["by_item_type"] == {"book": {"titles": 1, "copies": 3},
                                                   "periodical": {"titles": 1, "copies": 1}}
    assert whole["collection"]["by_language"] == {"vie": {"titles": 2, "copies": 4}}
    assert (whole["loans"], whole["returns"], whole["loans_overdue"]) == (3, 2, 1)
    assert whole["acquisitions"] == {"titles": 1, "copies": 1}
    assert figures.town(half, [A, B, C], date(2025, 12, 31)) == whole
    assert figures.town_from(per, half, [A, B, C], date(2025, 12, 31)) == whole
    assert figures.compute(half, [A, B, C], date(2025, 12, 31)) == per


def test_renewals_are_counted_from_their_index_alone(tmp_path):
    """Migration 19 puts the library in the renewals' partial index, so a report never
    reads the events themselves (a hub holds millions)."""
    with migrated_from(tmp_path / "thuvien.db", 13, "DROP INDEX event_loan_renew",
                       "CREATE INDEX event_loan_renew ON event (hlc) WHERE kind = 'loan.renew'"):
        text = figures.RENEWALS.format(key="library", only=" AND library IN (?)", town="")
        plan = " ".join(str(r[-1]) for r in dialect.run("EXPLAIN QUERY PLAN " + text,
                                                         (0, 1, A)).fetchall())
    assert "COVERING INDEX event_loan_renew" in plan, plan
