"""Fixtures of the catalogue tests: a fresh SQLite data context with a few records."""

import pytest

from appliance.core import db as dbmod
from appliance.core.context import Context


@pytest.fixture
def cat_ctx(tmp_path):
    db = dbmod.connect(str(tmp_path / "thuvien.db"))
    ctx = Context.for_db(db, library="PY-DH01", origin="cat-test")
    yield ctx
    ctx.close()


@pytest.fixture
def cat_app(cat_ctx):
    from appliance.web import create_app

    return create_app(cat_ctx, testing=True)


@pytest.fixture
def cat_server(cat_app):
    """The app on a real waitress server on a free loopback port."""
    import threading

    from waitress import create_server

    srv = create_server(cat_app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.effective_port}"
    yield srv
    srv.close()
    thread.join(timeout=5)
