"""A notification's event key is unique (one message per event, however often its cause runs;
NULLs, messages without a key, are distinct on both engines), and delivery reports find their
message by the gateway's id."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T09:38:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique notification event key, index on gateway id"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        await DB.run_ddl("CREATE UNIQUE INDEX notification_event_key ON notification (event_key)")
        await DB.run_ddl("CREATE INDEX notification_gateway_id ON notification (gateway_id)")

    manager.add_raw(run)
    return manager
