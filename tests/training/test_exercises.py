"""Each exercise is done only when the practice copy's log shows its steps, after it
started, and not before the last step."""

import pytest

from appliance.core import circulation, holds, patrons
from appliance.core.errors import Forbidden
from appliance.core.roster import importing
from appliance.core.stocktake import commands as stocktakes
from appliance.core.training import exercises, practice
from tests.roster import classlists as CL


@pytest.fixture
def copy(ctx):
    pc = practice.open_copy(ctx, "thuthu")
    with practice.bound(pc.db):
        yield pc
    pc.close()


def _states(code):
    return [done for _, done in exercises.progress(code, "thuthu")]


def test_hold_from_request_to_pickup(copy, ctx):
    exercises.start(copy, "hold_pickup")
    circulation.checkout(copy, "P0002", "1001")
    holds.place(copy, "P0001", ctx.bibs[0].id)
    assert _states("hold_pickup") == [True, False, False]
    circulation.checkin(copy, "1001")  # to the hold shelf
    assert _states("hold_pickup") == [True, True, False]
    assert exercises.check(copy, "hold_pickup", "thuthu") is None
    circulation.checkout(copy, "P0001", "1001")
    assert _states("hold_pickup") == [True, True, True]
    assert exercises.check(copy, "hold_pickup", "thuthu")


def test_register_a_patron_and_a_class_list(copy):
    exercises.start(copy, "register")
    patrons.save(copy, {"card": "P0500", "name": "Võ Minh Thử", "category": "adult"})
    assert _states("register") == [True, False]
    importing.run(copy, CL.xlsx(CL.pupils(3)), "lop6a.xlsx", consent=True)
    assert _states("register") == [True, True]


def test_stocktake_of_a_shelf(copy):
    exercises.start(copy, "stocktake")
    st = stocktakes.start(copy, location="Kho mở", actor="thuthu")
    stocktakes.scan(copy, st.id, ["1001"], actor="thuthu")
    assert _states("stocktake") == [True, True, False]
    stocktakes.finish(copy, st.id, actor="thuthu")
    assert _states("stocktake") == [True, True, True]


def test_another_accounts_work_does_not_count(copy):
    exercises.start(copy, "stocktake")
    st = stocktakes.start(copy, actor="someone-else")
    stocktakes.scan(copy, st.id, ["1001"], actor="someone-else")
    stocktakes.finish(copy, st.id, actor="someone-else")
    assert _states("stocktake") == [False, False, False]


def test_semiannual_export_is_a_local_step(copy):
    exercises.start(copy, "semiannual")
    exercises.note_step(copy, "report.exported", "thuthu", period="2026-05", half=False)
    assert _states("semiannual") == [False]
    exercises.note_step(copy, "report.exported", "thuthu", period="2026-H1", half=True)
    assert _states("semiannual") == [True]


def test_unknown_exercise(copy):
    from appliance.core.errors import NotFound
    with pytest.raises(NotFound):
        exercises.start(copy, "nope")


def test_a_conflict_is_planted_to_be_handled(copy, ctx):
    from appliance.core import conflicts
    from appliance.core.models import Conflict

    exercises.start(copy, "conflict")
    held = Conflict.get(Conflict.status == "open")
    assert _states("conflict") == [False]
    conflicts.resolve(copy, held.id, conflicts.choices(held)[0])
    assert _states("conflict") == [True]
    with pytest.raises(Forbidden):
        exercises.plant_conflict(ctx)  # never in the real library
