"""The requests queues seek the open requests, not all a library ever had: at a branch
(the desk's page and the JSON list) and at the hub (the town's queue and one library's),
on both databases a hub may use. The plans are SQLite's (tests/query_plans.py)."""

import pytest

from appliance.core import dialect
from appliance.core.context import Context
from appliance.core.models import RemoteRequest
from appliance.core.requests import commands
from tests.conftest import staff_login
from tests.query_plans import bad_steps, statements_of
from tests.sync.syncsupport import connected_hub_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
A, B = "PY-A", "PY-B"


def _year_of_requests(library, count, open_every=40, start=0):
    """`count` requests `library` handled, one in `open_every` still open."""
    RemoteRequest.insert_many([dict(
        id=f"{library}-{n:05d}", library=library, patron=f"p{n % 7}", kind="copy",
        state="requested" if n % open_every == 0 else ("expired", "refused")[n % 2],
        title=f"Sách {n}", placed_hlc=start + n, field_hlc={}) for n in range(count)]).execute()


def _fails(ctx, statements):
    bad = bad_steps(ctx, statements)
    return "\n".join(f"{step}  in  {sql}" for step, sql in bad)


def test_the_desk_queue_and_list_read_the_open_requests(ctx, client):
    _year_of_requests(ctx.library, 2000)
    staff_login(client)

    def listed():
        page = client.get("/desk/requests/").get_data(as_text=True)
        assert "Sách 40" in page and "Sách 41" not in page
        reqs = client.get("/api/v1/requests").get_json()["requests"]
        assert len(reqs) == 50

    statements = statements_of(ctx, listed)
    on_requests = [sql for sql in statements if '"remote_request"' in sql]
    assert len(on_requests) == 2
    assert not bad_steps(ctx, on_requests), _fails(ctx, on_requests)


@pytest.fixture(params=BACKENDS)
def hub(request, tmp_path):
    with connected_hub_database(request.param, tmp_path) as db:
        yield Context.for_db(db, "PY-TT01", origin="hub-device", role="hub")


def test_the_hubs_queues_read_the_open_requests(hub):
    _year_of_requests(A, 1200)
    _year_of_requests(B, 800, open_every=100, start=5000)

    def queues():
        town = [r.id for r in commands.queue(hub)]
        one = [r.id for r in commands.queue(hub, library=B)]
        assert town == [f"{A}-{n:05d}" for n in range(0, 1200, 40)] + \
            [f"{B}-{n:05d}" for n in range(0, 800, 100)]
        assert one == [f"{B}-{n:05d}" for n in range(0, 800, 100)]

    if dialect.is_postgres(hub.db):
        queues()  # (the plans are SQLite's)
        return
    statements = statements_of(hub, queues)
    assert len(statements) == 2
    assert not bad_steps(hub, statements), _fails(hub, statements)


def test_migration_32_gives_a_hub_the_indexes(hub):
    from appliance.core import db as dbmod

    new = ("hold_library_replaced", "remote_request_library_state", "remote_request_state",
           "bib_marked")
    for name in new:
        hub.db.execute_sql(f"DROP INDEX {name}")
    hub.db.execute_sql("CREATE INDEX remote_request_library ON remote_request (library)")
    dbmod._set_version(31)
    dbmod.migrate(hub.db)
    listed = ("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
              if dialect.is_postgres(hub.db) else
              "SELECT name FROM sqlite_master WHERE type = 'index'")
    names = {row[0] for row in hub.db.execute_sql(listed)}
    assert dbmod.schema_version(hub.db) == dbmod.SCHEMA_VERSION
    assert set(new) <= names and "remote_request_library" not in names
