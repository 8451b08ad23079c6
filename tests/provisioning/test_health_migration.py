"""Schema 34: a hub's record of its devices' health gains the update waiting on each, and
keeps what it held (the table is provisioning's, named by the migration in core)."""

from appliance.core import datadir, db
from appliance.core.context import Context
from provisioning import health
from tests.sync.syncsupport import hub_db_fixture  # noqa: F401  (the hub_db fixture)


def _columns(ctx):
    return {c.name for c in ctx.db.get_columns("device_health")}


def test_a_hub_at_schema_33_gains_the_waiting_update_and_keeps_its_devices(tmp_path, hub_db):
    hub = tmp_path / "hub"
    ctx = datadir.init(hub, "PY-HUB", "Thư viện thị xã Đông Hòa", role="hub", database=hub_db)
    health.ensure_tables(ctx.db)
    health.record("py-dh01-aaaa", {"version": "0.1.0", "disk_free": 5_300_000_000})
    # the table and the schema's number as schema 33 left them
    ctx.db.execute_sql("ALTER TABLE device_health DROP COLUMN update_waiting")
    db._set_version(33)
    ctx.close()

    ctx = Context.open(hub)  # migrated as it opens
    try:
        assert db.schema_version(ctx.db) == db.SCHEMA_VERSION >= 34
        assert "update_waiting" in _columns(ctx)
        kept = health.DeviceHealth.get_by_id("py-dh01-aaaa")
        assert (kept.version, kept.disk_free, kept.update_waiting) == ("0.1.0", 5_300_000_000,
                                                                        None)
        health.record("py-dh01-aaaa", {"version": "0.1.0", "update_waiting": "0.4.0"})
        assert health.DeviceHealth.get_by_id("py-dh01-aaaa").update_waiting == "0.4.0"
    finally:
        ctx.close()


def test_a_database_without_the_table_is_migrated_and_makes_it_whole(tmp_path):
    """A branch opened before provisioning registered its tables: nothing to alter."""
    ctx = datadir.init(tmp_path / "branch", "PY-DH01", "Thư viện phường Hòa Vinh")
    ctx.db.execute_sql("DROP TABLE device_health")
    db._set_version(33)
    ctx.close()
    ctx = Context.open(tmp_path / "branch")
    try:
        assert db.schema_version(ctx.db) == db.SCHEMA_VERSION
        assert "update_waiting" in _columns(ctx)  # made whole by its registration
    finally:
        ctx.close()
