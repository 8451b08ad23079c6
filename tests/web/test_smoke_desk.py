"""The desk through Flask's test client: log in, lend, return, refusals shown."""

from tests.conftest import staff_login


def login(client, username="thuthu"):
    return staff_login(client, username)


def test_lend_and_return_at_the_desk(client, ctx):
    token = login(client)
    r = client.post("/desk/checkout", data={"card": "P0001", "barcode": "1001",
                                            "csrf_token": token}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "Truyện Kiều" in page and "cho mượn đến" in page.lower() or "lent until" in page
    r = client.post("/desk/checkin", data={"barcode": "1001", "csrf_token": token})
    assert "P0001" in r.get_data(as_text=True)


def test_form_without_csrf_token_changes_nothing(client, ctx):
    from appliance.core.models import Event
    login(client)
    before = Event.select().count()
    r = client.post("/desk/checkout", data={"card": "P0001", "barcode": "1001"})
    assert r.status_code == 400
    assert Event.select().count() == before


def test_clock_behind_shows_a_warning_on_every_page(client, ctx):
    from appliance.core.clock import pack
    login(client)
    assert "banner warn" not in client.get("/desk/").get_data(as_text=True)
    ctx.clock.observe(pack(ctx.clock.wall_ms() + 3 * 24 * 3600 * 1000, 0))
    page = client.get("/desk/").get_data(as_text=True)
    assert 'class="banner warn" role="alert"' in page
    assert client.get("/api/v1/health").get_json()["clock_ok"] is False


def test_clock_far_ahead_is_said_on_every_page(client, ctx):
    from appliance.core.clock import HLC, MAX_LEAP_MS
    login(client)
    wrong = ctx.clock.highest_ms() + 2 * MAX_LEAP_MS  # a clock chip two years ahead
    ctx.clock = HLC(ctx.clock.last, wall=lambda: wrong)
    page = client.get("/desk/").get_data(as_text=True)
    assert "quá một năm nên không được dùng" in page  # in Vietnamese, the default
    assert client.get("/api/v1/health").get_json()["clock_ok"] is False


def test_a_record_edit_names_the_staff_account_that_made_it(client, ctx):
    """A hub that quarantines an edit says who typed it: the event carries the account."""
    import json

    from appliance.core import patrons
    from appliance.core.models import Event
    token = login(client)
    client.post("/desk/patrons/P0001/block", data={"reason": "mất thẻ", "csrf_token": token})
    made = Event.select().where(Event.kind == "patron.saved").order_by(Event.pos.desc()).first()
    assert json.loads(made.body)["actor"] == "thuthu" and patrons.find(ctx, "P0001").blocked
    patrons.unblock(ctx, "P0001")  # the same thread after the request: nobody acting
    made = Event.select().where(Event.kind == "patron.saved").order_by(Event.pos.desc()).first()
    assert "actor" not in json.loads(made.body)


def test_desk_pages_render_for_a_librarian(client, ctx):
    from appliance.core import circulation
    circulation.checkout(ctx, "P0001", "1001")
    login(client)
    for path in ("/desk/", "/desk/checkin", "/desk/patrons", "/desk/patrons/P0001",
                 "/desk/patrons/new", "/desk/patrons/P0001/edit", "/desk/bibs",
                 f"/desk/bibs/{ctx.bibs[0].id}", "/desk/items/1001",
                 "/desk/holds", "/desk/overdue", "/desk/conflicts", "/desk/rules"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "<main" in r.get_data(as_text=True), path
    assert "Truyện Kiều" in client.get("/desk/items/1001").get_data(as_text=True)
    home = client.get("/desk/").get_data(as_text=True)
    assert '<dd id="count-loans">1</dd>' in home and '<dd id="count-copies">5</dd>' in home


def test_admin_sets_a_rule_and_a_closed_day(client, ctx):
    from appliance.core import policy
    token = login(client, "quanly")
    r = client.post("/desk/rules", data={"category": "pupil", "item_type": "book",
                                         "loan_days": "21", "max_loans": "4",
                                         "max_renewals": "1", "fee_per_day": "0",
                                         "holds_allowed": "1", "csrf_token": token})
    assert r.status_code == 302
    assert policy.rule_for(ctx.library, "pupil", "book").loan_days == 21
    r = client.post("/desk/calendar", data={"day": "2027-02-17", "reason": "Tết",
                                            "csrf_token": token})
    assert policy.is_closed(ctx.library, __import__("datetime").date(2027, 2, 17))
    r = client.post("/desk/rules", data={"category": "pupil", "item_type": "book",
                                         "loan_days": "abc", "csrf_token": token},
                    follow_redirects=True)
    assert "flash error" in r.get_data(as_text=True)


def test_librarian_may_not_change_rules(client, ctx):
    token = login(client)
    r = client.post("/desk/rules", data={"category": "*", "item_type": "*", "loan_days": "99",
                                         "csrf_token": token})
    assert r.status_code == 403


def test_staff_sessions_end_after_a_working_day_but_the_kiosk_stays(client, ctx):
    from appliance.core.models import LoginSession
    login(client)
    assert client.get("/desk/").status_code == 200
    LoginSession.update(expires_at=LoginSession.expires_at - 12 * 3600 - 60).execute()
    assert client.get("/desk/").status_code == 302
    staff_login(client, "kiosk", landing="/kiosk/")
    LoginSession.update(expires_at=LoginSession.expires_at - 20 * 24 * 3600).execute()
    assert client.get("/kiosk/").status_code == 200


def test_moving_expired_pickups_on_from_the_hold_shelf(client, ctx):
    from datetime import timedelta

    from appliance.core import circulation, holds
    from appliance.core.models import Hold
    hold = holds.place(ctx, "P0002", ctx.bibs[1].id)
    circulation.checkin(ctx, "1002", at_desk=True)  # pulled from the shelf: ready
    Hold.update(pickup_by=(ctx.clock.today() - timedelta(days=1)).isoformat()).where(
        Hold.id == hold.id).execute()
    token = login(client)
    r = client.post("/desk/holds/expire", data={"csrf_token": token}, follow_redirects=True,
                    query_string={"lang": "en"})
    assert "1 expired pickup moved on." in r.get_data(as_text=True)  # one: no plural s
    assert Hold.get_by_id(hold.id).status == "expired"


def test_a_copys_history_says_what_happened_in_words(client, ctx):
    from appliance.core import catalogue, circulation, holds
    catalogue.set_status(ctx, "1002", "damaged")
    catalogue.save_item(ctx, {"id": catalogue.get_item(ctx, "1002").id, "location": "Kho B"})
    catalogue.set_status(ctx, "1002", "available")
    circulation.checkout(ctx, "P0001", "1002")
    holds.place(ctx, "P0002", catalogue.get_item(ctx, "1002").bib_id)
    circulation.checkin(ctx, "1002")  # on the hold shelf for P0002
    circulation.checkout(ctx, "P0001", "1001")  # another copy's events stay out
    login(client)
    page = client.get("/desk/items/1002").get_data(as_text=True)
    history = page[page.index('<ul class="history">'):]
    lines = history[:history.index("</ul>")].split("<li>")[1:]
    assert len(lines) == 5, lines
    assert "Để trên kệ giữ chỗ cho P0002 đến hết" in lines[0]
    assert "Chuyển tình trạng: Trên giá" in lines[1]
    assert "Sửa: Vị trí" in lines[2] and "Chuyển tình trạng: Hư hỏng" in lines[3]
    assert "Vào sổ đăng ký cá biệt" in lines[4]
    # Found through the partial indexes of those events, not by reading the whole log.
    seen = []
    ctx.db.connection().set_trace_callback(seen.append)
    try:
        catalogue.copy_history(catalogue.get_item(ctx, "1002"))
    finally:
        ctx.db.connection().set_trace_callback(None)
    query = next(sql for sql in seen if "FROM event" in sql)
    plan = " ".join(row[-1] for row in ctx.db.execute_sql(f"EXPLAIN QUERY PLAN {query}"))
    assert "SEARCH event USING INDEX event_item_saved" in plan, plan
    assert "SEARCH event USING INDEX event_hold_trapped" in plan, plan
