"""Authority: which library's device may make which event (appliance/core/authority.py),
and the desk's commands refusing another library's patron, copy and settings."""

from datetime import date

import pytest

from appliance.core import authority, catalogue, circulation, datadir, events, patrons, policy
from appliance.core.context import Context
from appliance.core.errors import Forbidden

A, B, C = "PY-DH01", "PY-DH02", "PY-DH03"
ROWS = {
    ("patron", "pa"): {"library": A}, ("patron", "pb"): {"library": B},
    ("item", "ia"): {"library": A}, ("item", "ib"): {"library": B},
    ("loan", "la"): {"library": A, "patron_library": B},  # A's copy lent to B's card
    ("hold", "ha"): {"library": A, "patron_library": B},
    ("hold", "hb"): {"library": B, "patron_library": A},
    ("conflict", "cb"): {"library": B},
    ("request", "rb"): {"library": B, "patron": "pa"},  # A's card asked B for a copy
    ("request", "rb2"): {"library": B, "patron": "pb"},
}


def lookup(table, key):
    return ROWS.get((table, key))


def ev(kind, routed, **body):
    """An event as sent: `routed` is its own `library` field, which the sender writes."""
    return {"id": "e", "kind": kind, "library": routed, "body": body}


def record(key, **fields):
    return {"id": key, "fields": fields, "base": {}, "at": "2026-11-30"}


CASES = [
    # Each library's own records: yes at home, no anywhere else, whatever the event says.
    (ev("patron.saved", A, **record("pa", phone="1")), None),
    (ev("patron.saved", B, **record("pb", phone="1", pin_hash="x")), "other_library"),
    (ev("patron.saved", A, **record("pb", blocked=True)), "other_library"),
    (ev("patron.saved", A, **record("pb", library=A)), "other_library"),  # a take-over
    (ev("patron.saved", A, **record("pa", library=B)), "other_library"),  # a give-away
    (ev("patron.saved", A, **record("new", library=A, card="X")), None),
    (ev("patron.saved", B, **record("new", library=B, card="X")), "other_library"),
    (ev("patron.saved", B, **record("new", card="X")), "other_library"),
    (ev("patron.saved", A, **record("new", library=B, card="X")), "other_library"),
    (ev("patron.saved", B, **record("pa", phone="1")), "library_mismatch"),  # routed to B
    (ev("patron.history_erased", A, patron_id="pb"), "other_library"),
    (ev("item.saved", A, **record("ia", status="lost")), None),
    (ev("item.saved", B, **record("ib", status="lost")), "other_library"),
    (ev("item.saved", B, **record("new", library=B, barcode="X")), "other_library"),
    (ev("library.saved", A, **record(A, name="x")), None),
    (ev("library.saved", B, **record(B, name="x")), "other_library"),
    (ev("rule.saved", B, library=B, category="*", item_type="*"), "other_library"),
    (ev("calendar.saved", A, library=A, day="2026-12-01"), None),
    (ev("calendar.saved", B, library=B, day="2026-12-01"), "other_library"),
    (ev("conflict.resolved", B, conflict_id="cb"), "other_library"),
    # Shared: the union catalogue; any card borrows A's copy at A; returns anywhere.
    (ev("bib.saved", A, **record("any", title="x")), None),
    (ev("loan.out", A, item_id="ia", patron_id="pb", library=A), None),
    (ev("loan.out", B, item_id="ib", patron_id="pa", library=B), "other_library"),
    (ev("loan.out", A, item_id="ia", patron_id="pb", library=B), "library_mismatch"),
    (ev("loan.out", B, item_id="ia", patron_id="pb", library=A), "library_mismatch"),
    (ev("loan.in", B, item_id="ib", loan_id="l"), None),  # a copy of B returned at A
    (ev("loan.in", A, item_id="ib", loan_id="l"), "library_mismatch"),
    (ev("loan.renew", A, loan_id="la"), None),
    (ev("hold.placed", A, library=A, patron_id="pb", bib_id="any"), None),
    (ev("hold.placed", B, library=B, patron_id="pa", bib_id="any"), "other_library"),
    (ev("hold.trapped", A, hold_id="ha", item_id="ia"), None),
    (ev("hold.trapped", A, hold_id="ha", item_id="ib"), "other_library"),
    (ev("hold.expired", B, hold_id="hb"), "other_library"),
    (ev("hold.expired", B, hold_id="ha"), "library_mismatch"),
    (ev("hold.cancelled", B, hold_id="hb"), None),  # A cancels its card's hold at B
    (ev("hold.from.the.future", A), "unknown_kind"),
    # A copy B handles: A records only its own patron's download of it, as B's event.
    (ev("request.delivered", B, request_id="rb", library=B, patron_id="pa"), None),
    (ev("request.delivered", A, request_id="rb", library=A, patron_id="pa"),
     "library_mismatch"),
    (ev("request.delivered", B, request_id="rb2", library=B, patron_id="pb"),
     "other_library"),
    (ev("request.delivered", B, request_id="rb2", library=B, patron_id="pa"),
     "other_library"),  # naming its own card does not make B's patron's copy A's
    (ev("request.expired", B, request_id="rb", library=B, patron_id="pa"), "other_library"),
]


@pytest.mark.parametrize("event,code", CASES, ids=[
    f"{i}-{e['kind']}" for i, (e, _) in enumerate(CASES)])
def test_a_device_of_a_changes_only_what_the_rule_allows(event, code):
    reason = authority.check(event, A, lookup)
    assert (reason.code if reason else None) == code, reason


def test_renewal_is_shared_between_the_copy_and_the_borrower_library():
    renew = ev("loan.renew", A, loan_id="la")
    assert authority.check(renew, B, lookup) is None  # B renews for its own card
    assert authority.check(renew, C, lookup).code == "other_library"
    assert authority.check(ev("hold.cancelled", A, hold_id="ha"), B, lookup) is None
    assert authority.check(ev("hold.cancelled", A, hold_id="ha"), C, lookup) is not None


def test_a_row_created_earlier_in_the_batch_is_judged_as_held():
    made = ev("patron.saved", A, **record("new", library=A, card="X"))
    edit = dict(ev("patron.saved", A, **record("new", phone="1")), id="e2")
    stolen = dict(ev("patron.saved", B, **record("new2", library=B, card="Y")), id="e3")
    edit_stolen = dict(ev("patron.saved", B, **record("new2", phone="1")), id="e4")
    refused = authority.screen([dict(made, id="e1"), edit, stolen, edit_stolen], A, lookup)
    assert set(refused) == {"e3", "e4"}


def test_the_batch_lookup_reads_the_libraries_of_what_events_name(ctx, tmp_path):
    circulation.checkout(ctx, "P0001", "1001")
    loan = events.since(ctx.origin, 0, 10**6)[-1]
    body = events.to_dict(loan)["body"]
    look = authority.batch_lookup([events.to_dict(loan), {"kind": "loan.renew", "body": {
        "loan_id": body["loan_id"]}}])
    assert look("item", body["item_id"]) == {"library": ctx.library}
    assert look("loan", body["loan_id"]) == {"library": ctx.library, "pickup": None,
                                            "patron_library": ctx.library}
    assert look("item", "unknown") is None


@pytest.fixture
def foreign(ctx):
    """A patron, a copy and rules of library B in the same database (as the hub holds
    them, or as B's cards reach every branch), made by the hub's staff."""
    town = Context.for_db(ctx.db, ctx.library, origin="hub-device", role="hub")
    datadir.save_library(town, B, "Thư viện B")
    patron = patrons.save(town, {"card": "B0001", "name": "Lê Thị Bích", "category": "adult"},
                          library=B)
    item = catalogue.save_item(town, {"bib": ctx.bibs[0].id, "barcode": "B1001",
                                      "library": B})
    policy.save_rule(town, B, "*", "*", loan_days=7, max_loans=2, max_renewals=0)
    return patron, item


def _refused(call):
    with pytest.raises(Forbidden) as err:
        call()
    assert err.value.code == "other_library" and err.value.status == 403
    return err.value


def test_the_desk_refuses_another_librarys_patron_copy_and_settings(ctx, foreign):
    patron, item = foreign
    before = events.head(ctx.origin)[0]
    err = _refused(lambda: patrons.save(ctx, {"id": patron.id, "phone": "0900000000",
                                              "pin": "9999"}))
    assert str(err) == f"Card B0001 belongs to library {B}: only that library may change it."
    _refused(lambda: patrons.block(ctx, "B0001", "mất thẻ"))
    _refused(lambda: patrons.unblock(ctx, "B0001"))
    _refused(lambda: patrons.erase_history(ctx, "B0001"))
    _refused(lambda: patrons.save(ctx, {"card": "B0002", "name": "X", "category": "adult"},
                                  library=B))
    _refused(lambda: catalogue.save_item(ctx, {"id": item.id, "status": "withdrawn"}))
    _refused(lambda: catalogue.save_item(ctx, {"bib": ctx.bibs[0].id, "barcode": "B1002",
                                               "library": B}))
    _refused(lambda: policy.save_rule(ctx, B, "*", "*", loan_days=1))
    _refused(lambda: policy.delete_rule(ctx, B, "*", "*"))
    _refused(lambda: policy.set_closed(ctx, B, date(2026, 12, 24)))
    _refused(lambda: datadir.save_library(ctx, B, "Đổi tên"))
    assert events.head(ctx.origin)[0] == before, "nothing was recorded"


def test_a_card_of_another_library_still_borrows_here(ctx, foreign):
    patron, _ = foreign
    result = circulation.checkout(ctx, "B0001", "1001")
    assert result["patron"] == "B0001"
    assert circulation.checkin(ctx, "1001")["was_on_loan"]


def test_the_desk_page_says_no_in_vietnamese_and_the_card_stays_open(client, ctx, foreign):
    from appliance.core.models import Patron
    from tests.conftest import staff_login

    token = staff_login(client)
    r = client.post("/desk/patrons/B0001/block", data={"reason": "mất thẻ",
                                                       "csrf_token": token},
                    follow_redirects=True)
    page = r.get_data(as_text=True)
    assert f"Thẻ B0001 thuộc thư viện {B}: chỉ thư viện đó được sửa thẻ." in page
    assert not Patron.get(Patron.card == "B0001").blocked
