"""The two databases a catalogue runs on: SQLite (a branch, a small hub) and
PostgreSQL (a town hub). Tests of what the hub does take `db_backend` and run on both."""

from contextlib import contextmanager

import pytest

from appliance.core import datadir
from tests.factories import LIB, seed
from tests.sync.syncsupport import hub_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def library(data_dir, backend):
    """A data folder whose database is SQLite in the folder or a fresh PostgreSQL schema,
    seeded with the shared test data (tests/factories.py)."""
    with hub_database(backend) as url:
        ctx = datadir.init(data_dir, LIB, "Thư viện phường Hòa Hiệp Trung", database=url)
        try:
            ctx.bibs = seed(ctx)
            yield ctx
        finally:
            ctx.close()


@contextmanager
def as_the_hub(ctx):
    """Make other libraries' records in `ctx` as a pull from the hub would bring them:
    the hub may make them, a branch may not."""
    role, ctx.role = ctx.role, "hub"
    try:
        yield ctx
    finally:
        ctx.role = role


def town_fixtures(prepare, name="Thư viện"):
    """The fixtures `hub` (SQLite and PostgreSQL), `branch` (SQLite), `hub_web` and
    `branch_web` (served on loopback, tests/conftest.served) of this library, seeded
    (tests/factories.py), after `prepare(ctx)` (which may use as_the_hub)."""
    from tests.conftest import served

    def town(data_dir, backend, role):
        with hub_database(backend) as url:
            ctx = datadir.init(data_dir, LIB, name, role=role, database=url)
            try:
                ctx.bibs = seed(ctx)
                prepare(ctx)
                yield ctx
            finally:
                ctx.close()

    @pytest.fixture(params=BACKENDS)
    def hub(data_dir, request):
        yield from town(data_dir, request.param, "hub")

    @pytest.fixture
    def branch(data_dir):
        yield from town(data_dir, "sqlite", "branch")

    @pytest.fixture
    def hub_web(hub):
        yield from served(hub)

    @pytest.fixture
    def branch_web(branch):
        yield from served(branch)

    return hub, branch, hub_web, branch_web
