"""The outbox's claim reads due rows of one channel ``ORDER BY priority, id``: the index names the
channel too. Without it a pass's look for due e-mail walked every pending SMS of a broadcast's
backlog (96,000 rows, 84 ms, twice per batch: the drain of bench 7 fell to 23 messages/s)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T13:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox due index with the channel"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        await DB.run_ddl("DROP INDEX IF EXISTS notification_due")
        await DB.run_ddl("CREATE INDEX notification_due_channel ON notification "
                         "(status, channel, priority, id)")

    manager.add_raw(run)
    return manager
