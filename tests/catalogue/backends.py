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
