"""The sync tests' shared fixture: `hub_db`, each test once per database a hub may use."""

from tests.sync.syncsupport import hub_db_fixture  # noqa: F401  (the fixture)
