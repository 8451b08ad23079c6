"""Fixtures of the catalogue tests: a fresh SQLite data context with a few records."""

import pytest

from appliance.core import db as dbmod
from appliance.core.context import Context


@pytest.fixture
def cat_ctx(tmp_path):
    db = dbmod.connect(str(tmp_path / "thuvien.db"))
    # The union catalogue, with copies of several libraries: as the hub holds it (a
    # branch adds and edits only its own library's copies).
    ctx = Context.for_db(db, library="PY-DH01", origin="cat-test", role="hub")
    yield ctx
    ctx.close()


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
