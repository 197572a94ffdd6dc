"""``notification_attempt.notification`` gets its index: every deleted or abandoned outbox row
looked for its attempts by a scan of the whole attempts table (bench 7's clean-up of 96,000 rows
ran for minutes on PostgreSQL's foreign-key checks)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T14:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index on notification_attempt.notification"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        await DB.run_ddl("CREATE INDEX notification_attempt_notification "
                         "ON notification_attempt (notification)")

    manager.add_raw(run)
    return manager
