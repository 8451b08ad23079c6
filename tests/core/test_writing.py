"""One writer at a time, across threads (the desk's waitress threads each have their own
connection and may hold a read transaction of their own)."""

import threading
import time

from appliance.core import events


def _in_thread(ctx, fn):
    def run():
        try:
            fn()
        finally:
            ctx.db.close()  # this thread's connection
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_a_thread_in_its_own_transaction_still_waits_for_the_writer(ctx):
    holding, release, entered = threading.Event(), threading.Event(), []

    def writer():
        with events.writing(ctx):
            holding.set()
            release.wait(10)

    def reader_then_writer():
        with ctx.db.atomic():  # a transaction of its own, not the writer's
            with events.writing(ctx):
                entered.append(time.monotonic())

    first = _in_thread(ctx, writer)
    assert holding.wait(5)
    second = _in_thread(ctx, reader_then_writer)
    time.sleep(0.5)
    assert entered == [], "a second thread joined another thread's write"
    released_at = time.monotonic()
    release.set()
    first.join(5)
    second.join(5)
    assert len(entered) == 1 and entered[0] >= released_at


def test_a_command_inside_writing_joins_it_on_the_same_thread(ctx):
    with events.writing(ctx):
        assert events._writing(ctx)
        with events.writing(ctx):  # nested: joins, does not deadlock on its own lock
            assert ctx.db.in_transaction()
    assert not events._writing(ctx)
