"""Fixtures of the catalogue tests: a fresh data context with a few records, on SQLite and
on PostgreSQL (`db_backend`; a module that is about the branch alone overrides it)."""

import pytest

from appliance.core import db as dbmod
from appliance.core.context import Context
from tests.catalogue.backends import BACKENDS, library
from tests.sync.syncsupport import hub_database


@pytest.fixture(params=BACKENDS)
def db_backend(request):
    return request.param


@pytest.fixture
def cat_ctx(tmp_path, db_backend):
    """An empty catalogue: a bare database, no library set up, no event logged. It holds
    copies of several libraries, as the hub does (a branch adds and edits only its own
    library's copies)."""
    with hub_database(db_backend) as url:
        ctx = Context.for_db(dbmod.connect(url or str(tmp_path / "thuvien.db")),
                             library="PY-DH01", origin="cat-test", role="hub")
        yield ctx
        ctx.close()


@pytest.fixture
def ctx(data_dir, db_backend):
    """The shared seeded library (tests/conftest.py) on either database."""
    with library(data_dir, db_backend) as context:
        yield context


@pytest.fixture
def cat_app(cat_ctx):
    from appliance.web import create_app

    return create_app(cat_ctx, testing=True)


@pytest.fixture
def cat_server(cat_app):
    """The app on a real waitress server on a free loopback port."""
    from tests.conftest import Server

    with Server(cat_app) as srv:
        yield srv
