"""SQLite connections are lent to a thread and handed back (core/db.py SqliteDatabase):
a transaction stays with its thread and connection, a handed-back connection is taken
again rather than a new one opened, and loans made on lent connections from many threads
at once are all kept."""

import threading

from appliance.core import catalogue, circulation, policy
from appliance.core.models import Item, Loan, Setting
from appliance.core.verify import verify


def _in_thread(work):
    out = {}

    def run():
        try:
            out["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - raised again in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    if "error" in out:
        raise out["error"]
    return out.get("value")


def test_a_transaction_keeps_its_connection_and_a_handed_back_one_is_lent_again(ctx):
    db = ctx.db
    db.close()  # this thread's goes back
    began, finish = threading.Event(), threading.Event()
    held = {}

    def writer():
        with db.atomic():
            Setting.insert(key="lent-test", value=1).execute()
            held["conn"] = db.connection()
            began.set()
            finish.wait(30)
            assert db.connection() is held["conn"]  # nobody took it meanwhile
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    assert began.wait(30)

    def reader():
        conn = db.connection()
        unseen = Setting.get_or_none(Setting.key == "lent-test") is None
        db.close()
        return conn, unseen

    first, unseen = _in_thread(reader)
    assert first is not held["conn"] and unseen  # its own connection: no uncommitted row
    again, _ = _in_thread(reader)
    assert again is first  # the one handed back, not a new one
    finish.set()
    thread.join(30)
    assert Setting.get(Setting.key == "lent-test").value == 1


def test_loans_made_from_eight_threads_on_lent_connections_are_all_kept(ctx):
    policy.save_rule(ctx, ctx.library, "*", "*", loan_days=14, max_loans=1000, max_renewals=2)
    barcodes = [f"L{n:04d}" for n in range(80)]
    for barcode in barcodes:
        catalogue.save_item(ctx, {"bib": ctx.bibs[0].id, "barcode": barcode})
    ctx.db.close()
    shares = [barcodes[n::8] for n in range(8)]
    returned = {barcode for mine in shares for barcode in mine[::2]}
    failed = []

    def desk(mine):
        try:
            for barcode in mine:  # one request each: the connection handed back after it
                circulation.checkout(ctx, "P0001", barcode)
                ctx.db.close()
            for barcode in mine[::2]:
                circulation.checkin(ctx, barcode)
                ctx.db.close()
        except Exception as exc:  # noqa: BLE001 - reported by the test's thread
            failed.append(exc)

    threads = [threading.Thread(target=desk, args=(mine,)) for mine in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failed == []
    loans = list(Loan.select().join(Item).where(Item.barcode.in_(barcodes)))
    assert len(loans) == 80  # every checkout kept
    assert {loan.item.barcode for loan in loans if loan.returned_at is None} == \
        set(barcodes) - returned
    assert verify(ctx) == []
