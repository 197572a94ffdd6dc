"""Session lookups by token and by subscriber (a raw migration runs before table
operations in Piccolo, so indexes on a new table need their own migration)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-25T14:29:42:000000"
VERSION = "1.38.0"
DESCRIPTION = "subscriber session indexes"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        await DB.run_ddl("CREATE UNIQUE INDEX subscriber_session_token ON subscriber_session (token)")
        await DB.run_ddl("CREATE INDEX subscriber_session_user ON subscriber_session (user_id)")

    manager.add_raw(run)
    return manager
