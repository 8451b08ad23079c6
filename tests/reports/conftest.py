"""The seeded town, built once per database for the module that asks for it."""

import contextlib

import pytest

from tests.sync.syncsupport import hub_database

from .town import Town

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def town(request, tmp_path_factory):
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(hub_database(request.param))
        target = url or str(tmp_path_factory.mktemp("town") / "thuvien.db")
        built = Town(target)
        stack.callback(built.close)
        built.run_year()
        yield built
