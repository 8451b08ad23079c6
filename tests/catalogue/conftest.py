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
