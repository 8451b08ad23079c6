"""Every figure of the report, computed on a seeded town (three libraries, a year of
activity through the real commands), compared with the same figures counted again from
the generator's own ledger."""

from datetime import date

import pytest

from appliance.core.reports import figures, period
from appliance.core.reports.suppress import figures as suppressed

from .conftest import TOWN
from .town import LIBRARIES, YEAR, as_expected, expected

pytestmark = TOWN

TODAY = date(YEAR, 12, 31)
PERIODS = ([period.month(YEAR, m) for m in (1, 2, 6, 7, 12)]
           + [period.quarter(YEAR, q) for q in (1, 2, 3, 4)]
           + [period.half(YEAR, 1), period.half(YEAR, 2), period.year(YEAR),
              period.between(f"{YEAR}-03-17", f"{YEAR}-09-02")])


@pytest.mark.slow
def test_every_figure_of_every_library_matches_the_ledger(town):
    for p in PERIODS:
        computed = figures.compute(p, list(LIBRARIES), today=TODAY)
        for code in LIBRARIES:
            want = expected(town.ledger, code, p, TODAY)
            assert as_expected(computed[code]) == want, (p.name, code)
        assert computed[code]["digitised"] == {"documents": None, "views": None}


@pytest.mark.slow
def test_the_town_adds_up_its_libraries(town):
    p = period.half(YEAR, 1)
    each = figures.compute(p, list(LIBRARIES), today=TODAY)
    whole = figures.town(p, today=TODAY)
    for name in ("loans", "returns", "renewals", "loans_overdue", "copies_lost"):
        assert whole[name] == sum(f[name] for f in each.values())
    assert whole["visits"]["total"] == sum(f["visits"]["total"] for f in each.values())
    # patrons and titles are each of one library here, so counted once they still add up
    assert whole["patrons_active"]["total"] == sum(
        f["patrons_active"]["total"] for f in each.values())
    assert whole["collection"]["titles"] == sum(f["collection"]["titles"] for f in each.values())
    assert whole["loans"] > 50 and whole["visits"]["counted"] > 100  # a town that was busy
    assert figures.town_from(each, p, list(LIBRARIES), TODAY) == whole  # the report's way


def test_the_generated_year_did_everything_a_report_counts(town):
    led = town.ledger
    assert led.renewals and led.card_renewals and led.on_site and led.tallies
    assert any(v["changed"] for v in led.items.values())
    assert any(ln["back"] is None for ln in led.loans.values())


def test_small_numbers_of_people_are_withheld():
    data = figures.empty()
    data["patrons_active"].update(total=7, children=3, by_category={"child": 3, "adult": 4})
    data["cards"]["issued"] = 2
    data["loans"] = 2  # copies, not people: shown
    shown = suppressed(data)
    assert shown["patrons_active"] == {"total": 7, "children": "< 5",
                                       "by_category": {"child": "< 5", "adult": "< 5"}}
    assert shown["cards"]["issued"] == "< 5" and shown["cards"]["renewed"] == 0
    assert shown["loans"] == 2
