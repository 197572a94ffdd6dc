"""The outbox's send order and the gateways' rate slots (docs/notifications.md, "Rate and order").

- ``notification_due``: the claim reads due rows ``ORDER BY priority, id`` per status; broadcast
  rows already queued become the last priority, urgent ones the first;
- ``send_slot_gateway_slot``: one row per gateway and slot (SQLite cannot add a UNIQUE column).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-07T13:20:00:000002"
VERSION = "1.38.0"
DESCRIPTION = "outbox priority index, send slots unique"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="tables", description=DESCRIPTION)

    async def run():
        from piccolo_conf import DB

        await DB.run_ddl("UPDATE notification SET priority = 2 "
                         "WHERE topic IN ('broadcast', 'broadcast.news')")
        await DB.run_ddl("UPDATE notification SET priority = 0 WHERE urgent = TRUE")
        await DB.run_ddl("CREATE INDEX notification_due ON notification (status, priority, id)")
        await DB.run_ddl("CREATE UNIQUE INDEX send_slot_gateway_slot ON send_slot (gateway, slot)")

    manager.add_raw(run)
    return manager
