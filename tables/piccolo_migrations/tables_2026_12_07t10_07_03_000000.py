"""A broadcast's progress is counted over its messages (``notification.reference = 'B-<id>'``)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T10:07:03:000000"
VERSION = "1.38.0"
DESCRIPTION = "index on notification reference"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        await DB.run_ddl("CREATE INDEX notification_reference ON notification (reference)")

    manager.add_raw(run)
    return manager
